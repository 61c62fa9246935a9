"""InfoMEC: information-based modularity, explicitness and compactness (Hsu, Dorrell, Whittington,
Wu & Finn 2023, "Disentanglement via Latent Quantization", NeurIPS, Sec. 5).

With the normalised mutual information between code dimension z_d and factor v_k,

    NMI[d, k] = I(z_d; v_k) / H(v_k)   in [0, 1],

and A the set of active code dimensions (|A| of them, K factors):

    InfoM = mean_{d in A} ( max_k NMI[d, k] / sum_k NMI[d, k] - 1/K ) / (1 - 1/K)
    InfoC = mean_k       ( max_{d in A} NMI[d, k] / sum_{d in A} NMI[d, k] - 1/|A| ) / (1 - 1/|A|)
    InfoE = mean_k  ( H(v_k) - CE_k ) / H(v_k)        (discrete factor)
            mean_k  R^2_k                              (continuous factor)

InfoM is 1 when each code dimension informs about one factor only and 0 when about all equally;
InfoC is the same from the factors' side (1 when each factor lives in one dimension). InfoE is the
normalised predictive information of a linear probe from all code dimensions: CE_k is the in-sample
cross-entropy of a multinomial logistic regression (no penalty, standardised codes), H(v_k) that of
the best constant predictor; for continuous factors a linear least-squares fit, whose R^2 is the
normalised predictive information of a Gaussian model (the authors' code does the same).

Choices (where the paper or its code leaves them open, or differs from the issue's request):

* MI estimator (``estimator=``): ``"histogram"`` (default) discretises each code dimension into
  ``num_bins=20`` bins and uses plug-in MI (:func:`~disentax.metrics.utils.discrete_mutual_info`,
  the MIG estimator of disentanglement_lib), deterministic and fast. ``"knn"`` is the authors'
  choice for continuous codes, sklearn's ``mutual_info_classif`` with ``n_neighbors=10`` (its small
  jitter drawn from ``seed``). Bins (``binning=``) are ``"equal_width"`` between each column's
  min and max (default, as MIG) or ``"quantile"`` (equal counts, robust to outliers). Quantised
  codes (``discrete_codes=True``) use each distinct value as its own bin, like the paper.
* Continuous factors (``continuous_factors=``) are binned into ``factor_bins=20`` bins with the same
  ``binning`` rule for the NMI (H(v_k) is the entropy of the bins), and regressed for InfoE.
* Active dimensions: range > ``active_threshold`` x the largest range (1/20, the authors' rule for
  continuous codes: a collapsed VAE dimension stays near the prior mean); for quantised codes
  range > 0. The threshold is relative, so rescaling one dimension alone can switch it off;
  rescaling all of them together does not change anything.
* Degenerate cases: a code dimension (or factor) with zero NMI everywhere counts 0 in InfoM (InfoC),
  since it carries nothing to be modular (compact) about; with a single factor InfoM = 1 and with a
  single active dimension InfoC = 1 for every informative row/column; a factor taking one value is
  left out of InfoC, InfoE and the 1/K of InfoM. No active dimension gives InfoM = InfoC = 0.
* InfoE is in-sample, like the paper (a linear probe with D+1 weights per class barely overfits
  10,000 points); departure: no ``class_weight="balanced"`` in the fit, so the normaliser is H(v_k)
  rather than log(#classes) (equal for uniform factors). Negative values are clipped to 0.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import jax
import numpy as np

from disentax.metrics._checks import check_mixed_factors
from disentax.metrics.utils import discrete_entropy, discrete_mutual_info, histogram_discretize, sample_train_test

__all__ = ["BINNINGS", "MI_ESTIMATORS", "infomec", "infomec_nmi", "infomec_score"]

BINNINGS = ("equal_width", "quantile")
MI_ESTIMATORS = ("histogram", "knn")


def _quantile_discretize(x: np.ndarray, num_bins: int) -> np.ndarray:
    out = np.empty(x.shape, dtype=np.int64)
    probs = np.linspace(0.0, 1.0, int(num_bins) + 1)[1:-1]
    for d in range(x.shape[1]):
        edges = np.quantile(x[:, d], probs)
        out[:, d] = np.searchsorted(edges, x[:, d], side="right")
    return out


def _discretize(x: np.ndarray, num_bins: int, binning: str) -> np.ndarray:
    if int(num_bins) < 1:
        raise ValueError(f"number of bins must be a positive integer, got {num_bins}")
    return histogram_discretize(x, num_bins) if binning == "equal_width" else _quantile_discretize(x, num_bins)


def _labels(x: np.ndarray) -> np.ndarray:
    return np.stack([np.unique(x[:, j], return_inverse=True)[1].reshape(-1) for j in range(x.shape[1])], axis=1)


def _factor_labels(values: np.ndarray, continuous: np.ndarray, factor_bins: int, binning: str) -> np.ndarray:
    labels = np.zeros(values.shape, dtype=np.int64)
    if np.any(~continuous):
        labels[:, ~continuous] = _labels(values[:, ~continuous])
    if np.any(continuous):
        labels[:, continuous] = _discretize(values[:, continuous], factor_bins, binning)
    return labels


def _check_options(binning: str, estimator: str) -> None:
    if binning not in BINNINGS:
        raise ValueError(f"unknown binning {binning!r}; allowed: {', '.join(BINNINGS)}")
    if estimator not in MI_ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; allowed: {', '.join(MI_ESTIMATORS)}")


def _nmi(codes, labels, discrete_codes, num_bins, binning, estimator, seed) -> tuple[np.ndarray, np.ndarray]:
    entropy = discrete_entropy(labels)
    if discrete_codes:
        mi = discrete_mutual_info(_labels(codes), labels)
    elif estimator == "histogram":
        mi = discrete_mutual_info(_discretize(codes, num_bins, binning), labels)
    else:
        from sklearn.feature_selection import mutual_info_classif

        mi = np.zeros((codes.shape[1], labels.shape[1]))
        varying = np.ptp(codes, axis=0) > 0  # kNN distances are meaningless on a constant column
        for k in np.flatnonzero(entropy > 0):
            if np.any(varying):
                mi[varying, k] = mutual_info_classif(codes[:, varying], labels[:, k], discrete_features=False,
                                                     n_neighbors=10, random_state=seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        nmi = np.where(entropy[None, :] > 0, mi / entropy[None, :], 0.0)
    return np.clip(nmi, 0.0, 1.0), entropy


def infomec_nmi(
    codes: Any,
    factors: Any,
    *,
    continuous_factors: bool | Sequence[bool] = False,
    discrete_codes: bool = False,
    num_bins: int = 20,
    factor_bins: int = 20,
    binning: str = "equal_width",
    estimator: str = "histogram",
    seed: int = 0,
) -> np.ndarray:
    """``NMI [D, K]`` = I(z_d; v_k) / H(v_k) in nats over nats, with the module's binning rules.

    A factor taking one value (H = 0) has an all-zero column.
    """
    _check_options(binning, estimator)
    codes, values, cont = check_mixed_factors(codes, factors, continuous_factors)
    labels = _factor_labels(values, cont, factor_bins, binning)
    return _nmi(codes, labels, discrete_codes, num_bins, binning, estimator, seed)[0]


def _ratio_score(nmi: np.ndarray, axis: int) -> float:
    """Mean over the other axis of (max / sum - 1/n) / (1 - 1/n), n = nmi.shape[axis]; zero rows score 0."""
    n = nmi.shape[axis]
    total = nmi.sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, nmi.max(axis=axis) / total, 0.0)
    if n == 1:
        return float(np.mean(total > 0))
    return float(np.mean(np.where(total > 0, (ratio - 1.0 / n) / (1.0 - 1.0 / n), 0.0)))


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return np.where(std > 0, (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)


def _info_e(codes, values, labels, cont, keep, discrete_codes, seed) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if discrete_codes:
        x = np.concatenate([(c[:, None] == np.unique(c)[None, :]).astype(np.float64) for c in codes.T], axis=1)
    else:
        x = _standardise(codes)
    scores = []
    for k in np.flatnonzero(keep):
        if cont[k]:
            t = values[:, k]
            fit = LinearRegression().fit(x, t)
            residual = np.mean((fit.predict(x) - t) ** 2)
            scores.append(max(0.0, 1.0 - residual / np.var(t)))
            continue
        y = labels[:, k]
        p = np.bincount(y) / len(y)
        h = -np.sum(p[p > 0] * np.log(p[p > 0]))
        with warnings.catch_warnings():
            # Unpenalised logistic regression on separable classes never converges (the weights grow
            # without bound while the cross-entropy goes to 0); 100 iterations get close enough.
            warnings.simplefilter("ignore", ConvergenceWarning)
            probe = LogisticRegression(C=np.inf, max_iter=100, random_state=seed).fit(x, y)
        proba = np.clip(probe.predict_proba(x), 1e-15, 1.0)
        cross_entropy = -np.mean(np.log(proba[np.arange(len(y)), np.searchsorted(probe.classes_, y)]))
        scores.append(max(0.0, (h - cross_entropy) / h))
    return float(np.mean(scores))


def infomec(
    codes: Any,
    factors: Any,
    *,
    continuous_factors: bool | Sequence[bool] = False,
    discrete_codes: bool = False,
    num_bins: int = 20,
    factor_bins: int = 20,
    binning: str = "equal_width",
    estimator: str = "histogram",
    active_threshold: float = 1.0 / 20,
    seed: int = 0,
) -> dict:
    """InfoM, InfoE and InfoC of ``codes [N, D]`` against ``factors [N, K]`` (see the module docstring).

    `continuous_factors`: one flag for all factors or one per factor (real values allowed there;
    the others must be integer labels). `seed` drives the kNN estimator's jitter and is the probes'
    ``random_state``: the same inputs and seed give the same numbers.

    Returns ``{"infom", "infoc", "infoe", "nmi" [D][K], "active" [D], "num_active"}``.
    """
    _check_options(binning, estimator)
    if not 0.0 <= float(active_threshold) < 1.0:
        raise ValueError(f"active_threshold must be in [0, 1), got {active_threshold}")
    codes, values, cont = check_mixed_factors(codes, factors, continuous_factors)
    labels = _factor_labels(values, cont, factor_bins, binning)
    nmi, entropy = _nmi(codes, labels, discrete_codes, num_bins, binning, estimator, seed)
    keep = entropy > 0
    if not np.any(keep):
        raise ValueError("infomec needs at least one factor taking more than one value")
    ranges = np.ptp(codes, axis=0)
    active = ranges > (0.0 if discrete_codes else float(active_threshold) * ranges.max())
    pruned = nmi[np.ix_(active, keep)]
    if pruned.shape[0] == 0:
        infom = infoc = 0.0
    else:
        infom = _ratio_score(pruned, axis=1)
        infoc = _ratio_score(pruned, axis=0)
    infoe = _info_e(codes, values, labels, cont, keep, discrete_codes, seed)
    return {
        "infom": infom,
        "infoc": infoc,
        "infoe": infoe,
        "nmi": nmi.tolist(),
        "active": active.tolist(),
        "num_active": int(np.sum(active)),
    }


def infomec_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    estimator: str = "histogram",
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`infomec` of ``num_train`` codes sampled from `dataset` (the train sample of DCI's
    protocol, 10,000 points; InfoE's probe is scored in-sample like the paper's, so no test sample).

    The dataset's factors are class indices (no factor binning); `estimator` and the probes'
    ``random_state`` as in :func:`infomec`, the latter drawn from `key`.
    """
    train, _, seed = sample_train_test(key, representation_fn, dataset, "infomec", num_train, None,
                                       batch_size, progress)
    return infomec(*train, estimator=estimator, seed=seed)
