"""Helpers shared by the metrics: applicability checks, sampling codes, discretisation, MI.

Conventions (differing from disentanglement_lib, which stores ``[num_codes, num_points]``):
codes are ``[N, D]`` floats, factors are ``[N, K]`` integers, one row per example.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "NotApplicable",
    "check_codes_factors",
    "discrete_entropy",
    "discrete_mutual_info",
    "histogram_discretize",
    "require_factors",
    "sample_codes",
]


class NotApplicable(ValueError):
    """A metric cannot be computed on this dataset or model (e.g. it has no ground-truth factors)."""


def require_factors(dataset: Any, metric: str) -> None:
    """Raise :class:`NotApplicable` unless `dataset` exposes a grid of ground-truth factors."""
    sizes = getattr(dataset, "factor_sizes", None)
    if not sizes or not hasattr(dataset, "sample_factors") or not hasattr(dataset, "render"):
        name = getattr(dataset, "name", type(dataset).__name__)
        raise NotApplicable(f"{metric} needs ground-truth factors; dataset {name!r} has none")


def check_codes_factors(codes: Any, factors: Any, what: str = "codes") -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``codes [N, D]`` (float) and ``factors [N, K]`` (int) to numpy."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2:
        raise ValueError(f"{what} must have shape [N, D], got {codes.shape}")
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or factors.shape[0] != codes.shape[0]:
        raise ValueError(f"factors must have shape [N, K] with N = {codes.shape[0]} rows like {what}, got {factors.shape}")
    if factors.dtype.kind not in "iu":
        if not np.all(factors == np.round(factors)):
            raise ValueError(f"factors must be integer class labels, got dtype {factors.dtype} with non-integer values")
        factors = factors.astype(np.int64)
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{what} contain NaN or infinite values")
    return codes, factors.astype(np.int64)


def histogram_discretize(codes: Any, num_bins: int = 20) -> np.ndarray:
    """Equal-width binning of each code column into `num_bins` bins, ints in ``[1, num_bins]``.

    The bin edges of column d span ``[min, max]`` of that column (numpy's histogram edges); a
    value goes to the last edge not above it, so the maximum shares the top bin. This is
    disentanglement_lib's ``histogram_discretizer``. A constant column maps to a single bin.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if int(num_bins) < 1:
        raise ValueError(f"num_bins must be a positive integer, got {num_bins}")
    out = np.empty(codes.shape, dtype=np.int64)
    for d in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, d], bins=int(num_bins))
        out[:, d] = np.digitize(codes[:, d], edges[:-1])
    return out


def _relabel(x: np.ndarray) -> tuple[np.ndarray, int]:
    values, inverse = np.unique(x, return_inverse=True)
    return inverse.reshape(-1), len(values)


def _mutual_info_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in I(a; b) in nats of two discrete label vectors (= sklearn's mutual_info_score)."""
    a, na = _relabel(a)
    b, nb = _relabel(b)
    if na == 1 or nb == 1:
        return 0.0  # exactly: a constant shares no information (avoids rounding residue)
    joint = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb).astype(np.float64)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return max(0.0, float(np.sum(joint[nz] * (np.log(joint[nz]) - np.log((pa * pb)[nz])))))


def discrete_mutual_info(codes_discrete: Any, factors: Any) -> np.ndarray:
    """Matrix ``I[d, k]`` = plug-in mutual information (nats) between code d and factor k."""
    codes_discrete, factors = np.asarray(codes_discrete), np.asarray(factors)
    return np.array(
        [[_mutual_info_1d(codes_discrete[:, d], factors[:, k]) for k in range(factors.shape[1])]
         for d in range(codes_discrete.shape[1])]
    ).reshape(codes_discrete.shape[1], factors.shape[1])


def discrete_entropy(factors: Any) -> np.ndarray:
    """Plug-in entropy (nats) of each factor column, ``H(v_k) = -sum_v p(v) log p(v)``."""
    factors = np.asarray(factors)
    out = []
    for k in range(factors.shape[1]):
        p = np.bincount(_relabel(factors[:, k])[0]).astype(np.float64)
        p /= p.sum()
        out.append(float(-np.sum(p * np.log(p))))
    return np.asarray(out)


@functools.lru_cache(maxsize=32)
def _code_sampler(representation_fn: Callable, dataset: Any, batch_size: int):
    def draw(key):
        images, factors = dataset.sample(key, batch_size)
        return representation_fn(images), factors

    return jax.jit(draw)


def sample_codes(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_points: int,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "codes",
) -> tuple[np.ndarray, np.ndarray]:
    """``num_points`` examples drawn uniformly from `dataset`, as ``(codes [N, D], factors [N, K])``.

    The counterpart of disentanglement_lib's ``generate_batch_factor_code``. Batch ``i`` uses
    ``fold_in(key, i)``; images are rendered and encoded inside one jitted function, so
    `representation_fn` (images -> codes) must be traceable by JAX. `batch_size` only changes
    speed and which random points are drawn, not the estimator.
    """
    num_points, batch_size = int(num_points), int(batch_size)
    if num_points < 1:
        raise ValueError(f"num_points must be a positive integer, got {num_points}")
    batch_size = max(1, min(batch_size, num_points))
    draw = _code_sampler(representation_fn, dataset, batch_size)
    num_batches = -(-num_points // batch_size)
    codes, factors = [], []
    batches = range(num_batches)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc=desc, unit="batch", leave=False, dynamic_ncols=True)
    for i in batches:
        c, f = draw(jax.random.fold_in(key, i))
        codes.append(c)
        factors.append(f)
    codes = np.asarray(jnp.concatenate(codes))[:num_points]
    factors = np.asarray(jnp.concatenate(factors))[:num_points]
    if codes.ndim != 2:
        raise ValueError(f"representation_fn must return codes of shape [B, D], got {codes.shape[1:]} per batch")
    return codes.astype(np.float64), factors.astype(np.int64)
