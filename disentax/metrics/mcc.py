"""Mean correlation coefficient, MCC (Hyvärinen & Morioka 2016, "Unsupervised Feature Extraction by
Time-Contrastive Learning and Nonlinear ICA"; Khemakhem, Kingma, Monti & Hyvärinen 2020,
"Variational Autoencoders and Nonlinear ICA: A Unifying Framework").

The identifiability literature scores a code by how well its dimensions can be paired one-to-one
with the factors. With rho[d, k] the correlation between code d and factor k over the N examples,

    MCC = (1/K) max_{pi} sum_k |rho[pi(k), k]|,

the maximum over injective assignments pi of factors to distinct code dimensions, found with the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).

Choices:

* ``correlation="pearson"`` (default) measures linear identifiability, ``"spearman"`` (Pearson on
  average ranks) identifiability up to monotone per-dimension maps.
* D != K: with D > K the unmatched code dimensions are ignored. With D < K only D factors can be
  matched; the others count as correlation 0 in the mean over all K factors, so a code that is too
  small cannot reach 1.
* A constant code or factor column has correlation 0 with everything (not NaN).
* Factors may be real-valued; they are used as given (no binning).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from disentax.metrics._checks import check_codes_values
from disentax.metrics.utils import sample_train_test

__all__ = ["CORRELATIONS", "abs_correlation_matrix", "match_correlations", "mcc", "mcc_score"]

CORRELATIONS = ("pearson", "spearman")


def _standardised(x: np.ndarray) -> np.ndarray:
    # A constant column leaves rounding residue after centring; judged against the column's own
    # magnitude it is recognised as constant and gives correlation 0 rather than noise.
    scale = np.max(np.abs(x), axis=0)
    x = x - x.mean(axis=0)
    norm = np.sqrt(np.sum(x * x, axis=0))
    keep = norm > 1e-12 * scale * np.sqrt(x.shape[0])
    return np.where(keep, x / np.where(keep, norm, 1.0), 0.0)


def abs_correlation_matrix(codes: Any, factors: Any, correlation: str = "pearson") -> np.ndarray:
    """``|rho| [D, K]``: absolute Pearson (or Spearman) correlation of each code with each factor.

    rho[d, k] = sum_n (z_nd - mean z_d)(v_nk - mean v_k) / sqrt(sum_n (z_nd - mean z_d)^2 sum_n (v_nk - mean v_k)^2),
    computed on average ranks for Spearman; a constant column gives 0.
    """
    if correlation not in CORRELATIONS:
        raise ValueError(f"unknown correlation {correlation!r}; allowed: {', '.join(CORRELATIONS)}")
    codes, factors = check_codes_values(codes, factors)
    if codes.shape[0] < 2:
        raise ValueError(f"correlations need at least 2 examples, got {codes.shape[0]}")
    if correlation == "spearman":
        from scipy.stats import rankdata

        codes, factors = rankdata(codes, axis=0), rankdata(factors, axis=0)
    rho = _standardised(codes).T @ _standardised(factors)
    return np.clip(np.abs(rho), 0.0, 1.0)


def match_correlations(abs_corr: Any) -> tuple[float, np.ndarray]:
    """``(MCC, matching [K])`` from a ``[D, K]`` matrix of absolute correlations.

    ``matching[k]`` is the code dimension paired with factor k, or -1 when D < K left it unmatched
    (it then counts 0 in the mean over the K factors).
    """
    from scipy.optimize import linear_sum_assignment

    r = np.asarray(abs_corr, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 1:
        raise ValueError(f"correlation matrix must be [D, K] with K >= 1, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("correlation matrix contains NaN or infinite values")
    rows, cols = linear_sum_assignment(r, maximize=True)
    matching = np.full(r.shape[1], -1, dtype=np.int64)
    matching[cols] = rows
    return float(r[rows, cols].sum() / r.shape[1]), matching


def mcc(codes: Any, factors: Any, correlation: str = "pearson") -> float:
    """MCC of ``codes [N, D]`` against (integer or real) ``factors [N, K]``, see the module docstring."""
    return match_correlations(abs_correlation_matrix(codes, factors, correlation))[0]


def mcc_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    correlation: str = "pearson",
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """MCC of ``num_train`` codes sampled from `dataset` (the train sample of DCI's protocol:
    nothing is fit, so there is no test sample), correlating the codes with the factors' class
    indices.

    Returns ``{"mcc", "matching" [K]}``: the score and the code dimension paired with each factor
    (-1 for a factor left unmatched because D < K).
    """
    (codes, factors), _, _ = sample_train_test(key, representation_fn, dataset, "mcc", num_train, None,
                                               batch_size, progress)
    score, matching = match_correlations(abs_correlation_matrix(codes, factors, correlation))
    return {"mcc": score, "matching": matching.tolist()}
