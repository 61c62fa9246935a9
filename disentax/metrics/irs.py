"""Interventional robustness score, IRS (Suter, Miladinović, Schölkopf & Bauer 2019, "Robustly
Disentangled Causal Mechanisms: Validating Deep Representations for Interventional Robustness", ICML).

IRS asks how far a code dimension z_d moves when the factors it should ignore (the nuisances J) are
intervened on while the factor it encodes (I = {k}) is held fixed. With d(a, b) = |a - b| per code
dimension and the factors independent (so conditioning on them is intervening on them):

    PIDA(d | k, v, j) = | E[z_d | do(v_k = v)] - E[z_d | do(v_k = v, v_J = j)] |
    MPIDA(d | k, v)   = sup_j PIDA(d | k, v, j)
    EMPIDA(d | k)     = E_v[ MPIDA(d | k, v) ]
    IRS[d, k]         = 1 - EMPIDA(d | k) / sup_g | E[z_d] - E[z_d | do(v = g)] |,

i.e. one minus the worst nuisance effect, relative to the largest effect any intervention has on z_d.
Each code dimension is scored by its best factor, ``IRS_d = max_k IRS[d, k]``, and the score is the
average of IRS_d over the active dimensions (not constant), weighted by their normaliser
``max_dev_d``: a dimension that hardly moves hardly counts.

Estimators (``nuisance=``):

* ``"points"`` (default) — disentanglement_lib's ``scalable_disentanglement_score``: every sampled
  point stands for its own configuration of the nuisances (one sample of E[z | do(v = g)]), so
  ``max_dev_d = max_n |z_nd - mean_n z_nd|`` and MPIDA is the ``diff_quantile`` quantile over the
  points with v_k = v of |z_nd - mean z_d over those points|. The quantile (0.99 by default) in
  place of the supremum keeps a few outlying points from deciding the score.
* ``"groups"`` — the paper's estimator on a grid where configurations repeat: points with the same
  full factor configuration are averaged into one estimate of E[z | do(v = g)], and both the
  normaliser and MPIDA are taken over those configuration means (the quantile over configurations,
  unweighted; ``diff_quantile=1`` is the paper's supremum). With one point per configuration it
  equals ``"points"``.

In both, E_v is the unweighted mean over the distinct observed values v of factor k.

Protocol (disentanglement_lib, kept as defaults): 10,000 points sampled uniformly (:func:`irs_score`,
batches of 16), ``diff_quantile=0.99``, and each factor first discretised into 20 equal-width bins
(``num_factor_bins=20``; a no-op for factors with at most 20 values, it merges neighbouring values of
e.g. dSprites' 32 positions and 40 orientations; ``None`` keeps every value). A code dimension is
active when it is not constant (disentanglement_lib: variance > 0; here max != min, which rounding
cannot fake). No active dimension scores 0.

IRS measures robustness of each dimension, not coverage: a dimension copied twice, or a factor that no
dimension encodes, leaves it unchanged.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from disentax.metrics.utils import check_codes_factors, histogram_discretize, require_factors, sample_codes

__all__ = ["NUISANCE_ESTIMATORS", "irs", "irs_score"]

NUISANCE_ESTIMATORS = ("points", "groups")


def _group_means(z: np.ndarray, inverse: np.ndarray, num_groups: int) -> np.ndarray:
    counts = np.bincount(inverse, minlength=num_groups).astype(np.float64)
    sums = np.zeros((num_groups, z.shape[1]))
    np.add.at(sums, inverse, z)
    return sums / counts[:, None]


def irs(
    codes: Any,
    factors: Any,
    diff_quantile: float = 0.99,
    num_factor_bins: int | None = 20,
    nuisance: str = "points",
) -> dict:
    """IRS of ``codes [N, D]`` against integer ``factors [N, K]`` (see the module docstring).

    Returns ``{"irs", "num_active_dims", "per_dim" [D], "matrix" [D][K], "parents" [D],
    "max_deviations" [D]}``: the score, the per-dimension IRS_d, the matrix IRS[d, k], each
    dimension's best factor and its normaliser. Inactive dimensions have IRS_d = 0, a zero row,
    parent -1 and weight 0.
    """
    codes, factors = check_codes_factors(codes, factors)
    if not 0.0 < float(diff_quantile) <= 1.0:
        raise ValueError(f"diff_quantile must be in (0, 1], got {diff_quantile}")
    if nuisance not in NUISANCE_ESTIMATORS:
        raise ValueError(f"unknown nuisance estimator {nuisance!r}; allowed: {', '.join(NUISANCE_ESTIMATORS)}")
    if num_factor_bins is not None:
        factors = histogram_discretize(factors, num_factor_bins)
    num_codes, num_factors = codes.shape[1], factors.shape[1]
    q = 100.0 * float(diff_quantile)

    active = np.ptp(codes, axis=0) > 0
    z = codes[:, active]
    cum = np.zeros((z.shape[1], num_factors))
    if nuisance == "points":
        max_dev = np.max(np.abs(z - z.mean(axis=0)), axis=0)
    else:
        configs, config_of = np.unique(factors, axis=0, return_inverse=True)
        config_of = config_of.reshape(-1)
        config_means = _group_means(z, config_of, len(configs))
        max_dev = np.max(np.abs(config_means - z.mean(axis=0)), axis=0)
    for k in range(num_factors):
        values, value_of = np.unique(factors[:, k], return_inverse=True)
        value_of = value_of.reshape(-1)
        value_means = _group_means(z, value_of, len(values))
        for v in range(len(values)):
            if nuisance == "points":
                deviation = np.abs(z[value_of == v] - value_means[v])
            else:
                deviation = np.abs(config_means[configs[:, k] == values[v]] - value_means[v])
            cum[:, k] += np.percentile(deviation, q, axis=0)
        cum[:, k] /= len(values)

    # A dimension no intervention moves (only possible for "groups") has nothing to be robust about.
    moving = max_dev > 0
    matrix_active = np.zeros_like(cum)
    matrix_active[moving] = 1.0 - cum[moving] / max_dev[moving, None]
    matrix = np.zeros((num_codes, num_factors))
    deviations = np.zeros(num_codes)
    idx = np.flatnonzero(active)[moving]
    matrix[idx] = matrix_active[moving]
    deviations[idx] = max_dev[moving]
    per_dim = np.where(deviations > 0, matrix.max(axis=1), 0.0)
    parents = np.where(deviations > 0, matrix.argmax(axis=1), -1)
    score = float(np.average(per_dim, weights=deviations)) if np.any(deviations > 0) else 0.0
    return {
        "irs": score,
        "num_active_dims": int(np.sum(deviations > 0)),
        "per_dim": per_dim.tolist(),
        "matrix": matrix.tolist(),
        "parents": parents.tolist(),
        "max_deviations": deviations.tolist(),
    }


def irs_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    batch_size: int = 16,
    diff_quantile: float = 0.99,
    progress: bool = False,
) -> dict:
    """:func:`irs` on ``num_train`` examples sampled from `dataset`: disentanglement_lib's protocol
    (10,000 points in batches of 16, ``diff_quantile=0.99``, factors in 20 bins).

    Returns ``{"irs", "num_active_dims"}`` (disentanglement_lib's keys); call :func:`irs` on
    :func:`~disentax.metrics.utils.sample_codes` output for the per-dimension details.
    """
    require_factors(dataset, "irs")
    codes, factors = sample_codes(key, representation_fn, dataset, num_train, batch_size, progress, "irs")
    s = irs(codes, factors, diff_quantile=diff_quantile)
    return {"irs": s["irs"], "num_active_dims": s["num_active_dims"]}
