"""Run several metrics on one representation: what ``disentax evaluate`` calls.

``evaluate(key, representation_fn, dataset, names, posterior_fn=...)`` returns ``{name: scores}``;
a metric that does not apply (no ground-truth factors, no Gaussian posterior of the scored code) gets
``{"not_applicable": reason}`` instead of a number. Each metric's key is ``fold_in(key, position in
ALL_METRICS)``, so a metric's value does not depend on which others ran with it.

`representation_fn(x) -> [B, D]` is what every metric scores; `posterior_fn(x)` gives the Gaussian
parameters of exactly those D dimensions (a `GaussianPosterior`-like object with `mean` and `logvar`,
or a `(mean, logvar)` pair), which `information` and `mig_exact` need.

``evaluate_arrays(codes_train, factors_train, codes_test, factors_test, names)`` is the same for
codes computed elsewhere (``python -m disentax.metrics``): the metrics of :data:`ARRAY_METRICS`, the
others reported not applicable.

Protocol of the metrics added in version 2 (each samples from the key it is given):

* ``irs``: :func:`~disentax.metrics.irs.irs_score`, ``num_train`` points in batches of 16.
* ``dci_es``: :func:`~disentax.metrics.dci_es.dci_es_score`, probes fit on ``num_train`` points,
  tested on ``num_eval``; ``infomec`` and ``mcc``: :func:`~disentax.metrics.infomec.infomec_score`,
  :func:`~disentax.metrics.mcc.mcc_score`, the ``num_train`` train sample only (nothing is tested
  out of sample). All three sample through :func:`~disentax.metrics.utils.sample_train_test`, the
  split of ``dci_score``.
* ``unsupervised``: :func:`~disentax.metrics.unsupervised.unsupervised_score` on ``num_train``
  points; it needs images to sample, not factors.
* ``downstream``: :func:`~disentax.metrics.downstream.downstream_task_score` with the training sizes
  10, 100, 1,000, 10,000 (each above ``num_train`` cut to ``num_train``) and ``num_eval`` test
  points; the boosted-tree classifier follows ``dci_importance`` (:func:`downstream_models`).
"""
from __future__ import annotations

import importlib.metadata
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from disentax.metrics._checks import check_codes_values
from disentax.metrics.beta_vae import beta_vae_changed_score, beta_vae_score
from disentax.metrics.dci import dci, dci_score
from disentax.metrics.dci_es import dci_es, dci_es_score
from disentax.metrics.downstream import DOWNSTREAM_SIZES, downstream_task, downstream_task_score
from disentax.metrics.factor_vae import factor_vae_score
from disentax.metrics.infomec import infomec, infomec_score
from disentax.metrics.information import mutual_information_per_dim
from disentax.metrics.irs import irs, irs_score
from disentax.metrics.mcc import abs_correlation_matrix, match_correlations, mcc_score
from disentax.metrics.mig import mig, mig_exact, mig_score
from disentax.metrics.modularity import modularity_explicitness, modularity_explicitness_score
from disentax.metrics.sap import sap, sap_score
from disentax.metrics.unsupervised import unsupervised_score, unsupervised_scores
from disentax.metrics.utils import NotApplicable, check_codes_factors, require_factors, sample_codes

__all__ = [
    "ALL_METRICS",
    "ARRAY_METRICS",
    "CONTINUOUS_FACTOR_METRICS",
    "DEFAULT_METRICS",
    "METRICS_VERSION",
    "METRIC_SUMMARIES",
    "SLOW_METRICS",
    "VARIANT_METRICS",
    "downstream_models",
    "downstream_sizes",
    "evaluate",
    "evaluate_arrays",
    "package_versions",
    "parse_metric_names",
]

# Order matters: it fixes each metric's key, so new metrics are appended and none ever moves.
ALL_METRICS = ("mig", "dci", "sap", "modularity", "beta_vae", "factor_vae", "information", "mig_exact",
               "irs", "dci_es", "infomec", "mcc", "unsupervised", "downstream", "beta_vae_changed")
# Left out of the default set for their cost; `--metrics all` or naming them runs them (times at the
# protocol on a shared 2-core CPU, benchmarks/results/metrics_sanity.md). mig_exact scores all
# 737,280 dSprites images against 10,000 codes six times over: minutes on a GPU, hours on a CPU.
# downstream fits 2 models x 4 training sizes x K factors: about 2 minutes with LightGBM, and with the
# default GBT its 10,000-point fits alone cost what GBT DCI does (8 minutes). dci_es was expected to
# be slow too (a depth-12 forest per factor, every code tried at every split), but took 14-16 s, about
# half of it sampling: cheap enough for the default set, and out of it only because the set was fixed
# before it was timed.
SLOW_METRICS = ("mig_exact", "dci_es", "downstream")
# Earlier or alternative forms of a default metric, run when named: beta_vae_changed is the β-VAE
# metric with pairs that differ in one factor (the Peychev et al. (2018) study scores with it).
VARIANT_METRICS = ("beta_vae_changed",)
DEFAULT_METRICS = tuple(m for m in ALL_METRICS if m not in SLOW_METRICS + VARIANT_METRICS)
# Version of the metrics' definitions and protocols, written next to every score (metrics.json,
# `python -m disentax.metrics`). Bump it whenever a metric's definition, estimator, default option
# or protocol size changes, so that numbers computed under different rules are never taken as
# comparable. 2: the suite of the first fourteen names above. beta_vae_changed was appended later
# without touching any other metric's definition, key or protocol, so their version-2 scores stand.
METRICS_VERSION = 2
METRIC_SUMMARIES = {
    "mig": "mutual information gap, 20-bin histograms of the codes (Chen et al. (2018))",
    "dci": "disentanglement, completeness, informativeness from feature importances (Eastwood & Williams (2018))",
    "sap": "separated attribute predictability (Kumar et al. (2018))",
    "modularity": "modularity and explicitness (Ridgeway & Mozer (2018))",
    "beta_vae": "accuracy of a linear classifier of the fixed factor (Higgins et al. (2017))",
    "beta_vae_changed": "accuracy of a linear classifier of the one factor changed within a pair "
                        "(Higgins et al. (2016); Peychev et al. (2018))",
    "factor_vae": "majority-vote accuracy on variance-normalised codes (Kim & Mnih (2018))",
    "information": "I(x; z_d) and I(v_k; z_d) per dimension from the Gaussian posterior (Esmaeili et al. (2019))",
    "mig_exact": "MIG from entropies of q(z|x) over the whole factor grid (Chen et al. (2018)); slow on CPU",
    "irs": "interventional robustness: how little a dimension moves when the other factors change "
           "(Suter et al. (2019))",
    "dci_es": "DCI with explicitness (loss-capacity curves of forest probes) and size (Eastwood et al. (2023))",
    "infomec": "InfoM, InfoE, InfoC: modularity, explicitness, compactness from normalised MI (Hsu et al. (2023))",
    "mcc": "mean |correlation| of factors and their matched code dimensions "
           "(Hyvärinen & Morioka (2016); Khemakhem et al. (2020))",
    "unsupervised": "Gaussian total / Wasserstein correlation, MI between dimensions; no factors needed "
                    "(Locatello et al. (2019))",
    "downstream": "accuracy of per-factor classifiers trained on 10 to 10,000 codes (Locatello et al. (2019))",
}
# The metrics that score fixed arrays of codes and factors (evaluate_arrays); the others draw their
# own examples from a dataset or need the encoder's posterior.
ARRAY_METRICS = ("mig", "dci", "sap", "modularity", "irs", "dci_es", "infomec", "mcc", "unsupervised", "downstream")
# Of those, the ones that take real-valued factors (unsupervised does not look at them at all).
CONTINUOUS_FACTOR_METRICS = ("dci_es", "infomec", "mcc", "unsupervised")
_NOT_FOR_ARRAYS = {
    "beta_vae": "beta_vae draws pairs of examples sharing one factor's value from a dataset; fixed arrays cannot",
    "beta_vae_changed": "beta_vae_changed draws pairs of examples differing in one factor from a dataset; "
                        "fixed arrays cannot",
    "factor_vae": "factor_vae draws batches with one factor fixed from a dataset; fixed arrays cannot",
    "information": "information needs the encoder's Gaussian posterior q(z|x), not codes",
    "mig_exact": "mig_exact needs the encoder's Gaussian posterior over the whole factor grid, not codes",
}
_VERSIONED = ("disentax", "jax", "jaxlib", "numpy", "scipy", "scikit-learn")


def package_versions() -> dict[str, str | None]:
    """Installed versions of disentax and the libraries the metrics' numbers depend on
    (``importlib.metadata``): jax, jaxlib, numpy, scipy, scikit-learn, and lightgbm when installed.
    A required package without metadata (run from a bare checkout) maps to None."""
    out: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    try:
        out["lightgbm"] = importlib.metadata.version("lightgbm")
    except importlib.metadata.PackageNotFoundError:
        pass  # optional: only importance/models "lightgbm" use it, and they fail without it
    return out


def downstream_models(dci_importance: str = "gbt") -> tuple[str, str]:
    """The downstream task's classifiers for a DCI importance model: logistic regression and the
    boosted trees DCI uses, ``("logistic_cv", "lightgbm")`` for ``"lightgbm"`` (the fast stand-in
    for sklearn's GBT) and disentanglement_lib's ``("logistic_cv", "gbt")`` for every other choice
    (random forests and lasso have no downstream counterpart)."""
    return ("logistic_cv", "lightgbm") if dci_importance == "lightgbm" else ("logistic_cv", "gbt")


def downstream_sizes(num_train: int) -> tuple[int, ...]:
    """disentanglement_lib's training sizes (10, 100, 1,000, 10,000), each cut to `num_train`, so a
    quick run with fewer points still covers the small sizes and ends at all it has."""
    return tuple(sorted({min(int(n), int(num_train)) for n in DOWNSTREAM_SIZES}))


def parse_metric_names(text: str | Sequence[str] | None) -> list[str]:
    """``"mig,dci"`` -> ["mig", "dci"]; None/"" -> DEFAULT_METRICS; "all" -> ALL_METRICS."""
    if text is None or text == "":
        return list(DEFAULT_METRICS)
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    if names == ["all"]:
        return list(ALL_METRICS)
    bad = [n for n in names if n not in ALL_METRICS]
    if bad:
        raise ValueError(f"unknown metric {bad[0]!r}; allowed: {', '.join(ALL_METRICS)} (or all)")
    return list(dict.fromkeys(names))


def _mean_logvar(posterior_fn: Callable) -> Callable:
    """x -> (mean, logvar) from a posterior function returning a GaussianPosterior or a pair."""

    def encode(x):
        post = posterior_fn(x)
        mean, logvar = (post.mean, post.logvar) if hasattr(post, "mean") else post
        if mean.shape != logvar.shape:
            raise ValueError(f"the posterior's mean {mean.shape} and logvar {logvar.shape} must have one shape")
        return mean, logvar

    return encode


def _information(key, posterior_fn, no_posterior, dataset, num_train, progress):
    if posterior_fn is None:
        raise NotApplicable(f"information needs the Gaussian posterior of the scored code; {no_posterior}")
    require_factors(dataset, "information")
    k_data, k_mi = jax.random.split(key)
    encode = _mean_logvar(posterior_fn)
    codes, factors = sample_codes(k_data, lambda x: jnp.concatenate(encode(x), axis=-1), dataset, num_train,
                                  progress=progress, desc="information")
    d = codes.shape[1] // 2  # [mean | logvar], each D wide
    out = mutual_information_per_dim(k_mi, codes[:, :d], codes[:, d:], factors)
    mi_y = out.pop("mi_y")
    out["mi_factors"] = dict(zip(dataset.factor_names, mi_y))
    return out


def evaluate(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    names: Sequence[str] | str | None = None,
    *,
    posterior_fn: Callable | None = None,
    no_posterior: str = "the method gives none",
    num_train: int | None = None,
    num_eval: int | None = None,
    num_variance_estimate: int | None = None,
    dci_importance: str = "gbt",
    mig_exact_samples: int = 10_000,
    progress: bool = False,
    on_result: Callable[[str, dict], None] | None = None,
) -> dict:
    """Scores of the named metrics (default :data:`DEFAULT_METRICS`) at the published protocols.

    ``num_train``/``num_eval``/``num_variance_estimate`` override the protocol sizes (10,000 /
    5,000 / 10,000) for quick runs; `posterior_fn` (images -> the Gaussian posterior of the
    representation's dimensions) is needed by ``information`` and ``mig_exact``, which otherwise
    report ``not_applicable`` with `no_posterior` as the reason. `dci_importance` is DCI's
    importance model and picks the downstream task's boosted trees (:func:`downstream_models`).
    `on_result(name, scores)` is called as each finishes.
    """
    names = parse_metric_names(names)
    tr = 10_000 if num_train is None else int(num_train)
    ev = 5_000 if num_eval is None else int(num_eval)
    var = 10_000 if num_variance_estimate is None else int(num_variance_estimate)
    # The wrappers are looked up when called, not bound here, so tests can watch what each is given.
    runners = {
        "mig": lambda k: mig_score(k, representation_fn, dataset, num_train=tr, progress=progress),
        "dci": lambda k: dci_score(k, representation_fn, dataset, num_train=tr, num_test=ev,
                                   importance=dci_importance, progress=progress),
        "sap": lambda k: sap_score(k, representation_fn, dataset, num_train=tr, num_test=ev, progress=progress),
        "modularity": lambda k: modularity_explicitness_score(k, representation_fn, dataset, num_train=tr,
                                                              num_test=ev, progress=progress),
        "beta_vae": lambda k: beta_vae_score(k, representation_fn, dataset, num_train=tr, num_eval=ev,
                                             progress=progress),
        "beta_vae_changed": lambda k: beta_vae_changed_score(k, representation_fn, dataset, num_train=tr,
                                                             num_eval=ev, progress=progress),
        "factor_vae": lambda k: factor_vae_score(k, representation_fn, dataset, num_train=tr, num_eval=ev,
                                                 num_variance_estimate=var, progress=progress),
        "information": lambda k: _information(k, posterior_fn, no_posterior, dataset, tr, progress),
        "mig_exact": lambda k: _mig_exact(k, posterior_fn, no_posterior, dataset, mig_exact_samples, progress),
        "irs": lambda k: irs_score(k, representation_fn, dataset, num_train=tr, progress=progress),
        "dci_es": lambda k: dci_es_score(k, representation_fn, dataset, num_train=tr, num_test=ev, progress=progress),
        "infomec": lambda k: infomec_score(k, representation_fn, dataset, num_train=tr, progress=progress),
        "mcc": lambda k: mcc_score(k, representation_fn, dataset, num_train=tr, progress=progress),
        "unsupervised": lambda k: _unsupervised(k, representation_fn, dataset, tr, progress),
        "downstream": lambda k: _downstream(k, representation_fn, dataset, tr, ev, dci_importance, progress),
    }
    results = {}
    for name in names:
        k = jax.random.fold_in(key, ALL_METRICS.index(name))
        try:
            scores = runners[name](k)
        except NotApplicable as e:
            scores = {"not_applicable": str(e)}
        results[name] = scores
        if on_result is not None:
            on_result(name, scores)
    return results


def _mig_exact(key, posterior_fn, no_posterior, dataset, num_samples, progress):
    if posterior_fn is None:
        raise NotApplicable(f"mig_exact needs the Gaussian posterior of the scored code; {no_posterior}")
    require_factors(dataset, "mig_exact")
    return mig_exact(key, _mean_logvar(posterior_fn), dataset, num_samples=num_samples, progress=progress)


def _unsupervised(key, representation_fn, dataset, num_train, progress):
    if not hasattr(dataset, "sample"):
        name = getattr(dataset, "name", type(dataset).__name__)
        raise NotApplicable(f"unsupervised needs a dataset to draw images from; {name!r} has no sample(key, n)")
    return unsupervised_score(key, representation_fn, dataset, num_train=num_train, progress=progress)


def _downstream(key, representation_fn, dataset, num_train, num_eval, dci_importance, progress):
    require_factors(dataset, "downstream")  # the reason names the suite's metric, not downstream_task
    return downstream_task_score(key, representation_fn, dataset, sizes=downstream_sizes(num_train),
                                 num_test=num_eval, models=downstream_models(dci_importance), progress=progress)


# ----------------------------------------------------------------------------- arrays


def _metric_seed(seed: int, name: str) -> int:
    """The integer seed of one metric's models: a function of (seed, metric) only, as in evaluate."""
    key = jax.random.fold_in(jax.random.PRNGKey(int(seed)), ALL_METRICS.index(name))
    return int(jax.random.randint(key, (), 0, 2**31 - 1))


def _array_runner(name, tr, te, seed, continuous, dci_importance):
    (c_tr, f_tr), (c_te, f_te) = tr, te
    if name == "mig":
        return {"mig": mig(c_tr, f_tr)}
    if name == "dci":
        return dci(c_tr, f_tr, c_te, f_te, importance=dci_importance, seed=seed)
    if name == "sap":
        return {"sap": sap(c_tr, f_tr, c_te, f_te)}
    if name == "modularity":
        return modularity_explicitness(c_tr, f_tr, c_te, f_te)
    if name == "irs":
        out = irs(c_tr, f_tr)
        return {"irs": out["irs"], "num_active_dims": out["num_active_dims"]}
    if name == "dci_es":
        return dci_es(c_tr, f_tr, c_te, f_te, continuous_factors=continuous, seed=seed)
    if name == "infomec":
        return infomec(c_tr, f_tr, continuous_factors=continuous, seed=seed)
    if name == "mcc":
        score, matching = match_correlations(abs_correlation_matrix(c_tr, f_tr))
        return {"mcc": score, "matching": matching.tolist()}
    if name == "unsupervised":
        return unsupervised_scores(c_tr)
    return downstream_task(c_tr, f_tr, c_te, f_te, sizes=downstream_sizes(len(c_tr)),
                           models=downstream_models(dci_importance), seed=seed)


def evaluate_arrays(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    names: Sequence[str] | str | None = None,
    *,
    seed: int = 0,
    continuous_factors: bool = False,
    dci_importance: str = "gbt",
    on_result: Callable[[str, dict], None] | None = None,
) -> dict:
    """Scores of the named metrics on codes ``[N, D]`` and factors ``[N, K]`` computed elsewhere.

    The default names are :data:`DEFAULT_METRICS` that score arrays; ``"all"`` is every name, the
    ones outside :data:`ARRAY_METRICS` (beta_vae, factor_vae, information, mig_exact) getting
    ``{"not_applicable": reason}``. Metrics that fit a model (dci, sap, modularity's explicitness,
    dci_es, downstream) train on the train rows and test on the test rows; the others (mig, irs,
    infomec, mcc, unsupervised) score the train rows, as the sampling protocol scores its train
    sample. The downstream sizes are :func:`downstream_sizes` of the train rows.

    With `continuous_factors` the factors may be real-valued: only
    :data:`CONTINUOUS_FACTOR_METRICS` run (dci_es regresses, infomec bins the factors), the others
    are not applicable. Otherwise factors must be integer class labels (ValueError if not). Each
    metric's models get a seed derived from ``(seed, metric)``, so a metric's numbers do not depend
    on which others ran. A metric that fails on these arrays (e.g. SAP with one code dimension)
    raises its ValueError.
    """
    if names is None or names == "":
        names = [m for m in DEFAULT_METRICS if m in ARRAY_METRICS]
    else:
        names = parse_metric_names(names)
    c_tr, f_tr = check_codes_values(codes_train, factors_train, "codes_train")
    c_te, f_te = check_codes_values(codes_test, factors_test, "codes_test")
    if c_tr.shape[1] != c_te.shape[1] or f_tr.shape[1] != f_te.shape[1]:
        raise ValueError(f"train and test disagree on D or K: codes {c_tr.shape} vs {c_te.shape}, "
                         f"factors {f_tr.shape} vs {f_te.shape}")
    if not continuous_factors:
        c_tr, f_tr = check_codes_factors(c_tr, f_tr, "codes_train")
        c_te, f_te = check_codes_factors(c_te, f_te, "codes_test")
    results = {}
    for name in names:
        if name not in ARRAY_METRICS:
            scores = {"not_applicable": _NOT_FOR_ARRAYS[name]}
        elif continuous_factors and name not in CONTINUOUS_FACTOR_METRICS:
            scores = {"not_applicable": f"{name} needs integer factor classes; the factors were given as continuous"}
        else:
            scores = _array_runner(name, (c_tr, f_tr), (c_te, f_te), _metric_seed(seed, name), continuous_factors,
                                   dci_importance)
        results[name] = scores
        if on_result is not None:
            on_result(name, scores)
    return results
