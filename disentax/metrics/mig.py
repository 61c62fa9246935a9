"""Mutual Information Gap (Chen, Li, Grosse & Duvenaud 2018, "Isolating Sources of Disentanglement").

For each factor v_k, MIG takes the two code dimensions sharing the most information with it
and reports their gap, normalised by the factor's entropy, averaged over factors:

    MIG = (1/K) sum_k [ I(z_{j(1)}; v_k) - I(z_{j(2)}; v_k) ] / H(v_k),

where j(1), j(2) index the largest and second largest I(z_j; v_k).

Two estimators:

* :func:`mig` — disentanglement_lib's: the encoder means of ``num_train = 10,000`` sampled
  examples, each dimension discretised into 20 equal-width bins, plug-in (histogram) MI.
* :func:`mig_exact` — Chen et al.'s: I(z_j; v_k) = H(z_j) - H(z_j | v_k) with both entropies of
  the full stochastic code q(z_j | x) aggregated over the *entire* dataset
  (:mod:`disentax.metrics.information`).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from disentax import distributions as dist
from disentax.metrics.information import aggregate_entropy, encode_dataset
from disentax.metrics.utils import (
    check_codes_factors,
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    require_factors,
    sample_codes,
)

__all__ = ["gap_score", "mig", "mig_exact", "mig_score"]


def gap_score(mutual_info: Any, factor_entropy: Any) -> float:
    """MIG from a ``[D, K]`` mutual-information matrix and the ``[K]`` factor entropies.

    Factors with zero entropy (a single observed value) carry no information to place and are
    left out of the mean; disentanglement_lib would return NaN there. With one code dimension
    the second-largest MI is taken as 0.
    """
    m = np.asarray(mutual_info, dtype=np.float64)
    h = np.asarray(factor_entropy, dtype=np.float64)
    keep = h > 0
    if not np.any(keep):
        raise ValueError("MIG needs at least one factor taking more than one value")
    top = np.sort(m, axis=0)[::-1]
    second = top[1] if top.shape[0] > 1 else np.zeros_like(top[0])
    return float(np.mean((top[0] - second)[keep] / h[keep]))


def mig(codes: Any, factors: Any, num_bins: int = 20) -> float:
    """Histogram MIG of ``codes [N, D]`` against integer ``factors [N, K]`` (disentanglement_lib).

    Each code dimension is cut into `num_bins` equal-width bins between its minimum and maximum;
    I(z_j; v_k) and H(v_k) are plug-in estimates (natural log) from the ``N`` pairs.
    """
    codes, factors = check_codes_factors(codes, factors)
    m = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    return gap_score(m, discrete_entropy(factors))


def mig_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    num_bins: int = 20,
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`mig` on ``num_train`` examples sampled from `dataset` (disentanglement_lib: 10,000, 20 bins)."""
    require_factors(dataset, "mig")
    codes, factors = sample_codes(key, representation_fn, dataset, num_train, batch_size, progress, "mig")
    return {"mig": mig(codes, factors, num_bins)}


def _factor_groups(array: jax.Array, sizes: Sequence[int], k: int) -> jax.Array:
    """Rows of ``array [N, D]`` (flat dataset order) grouped by the value of factor k: ``[s_k, N/s_k, D]``."""
    grid = array.reshape(*sizes, array.shape[-1])
    return jnp.moveaxis(grid, k, 0).reshape(sizes[k], -1, array.shape[-1])


def mig_exact(
    key: jax.Array,
    encoder: Callable | tuple[Any, Any],
    dataset: Any,
    *,
    num_samples: int = 10_000,
    factors: Sequence[int | str] | None = None,
    encode_batch_size: int = 1024,
    sample_chunk: int = 256,
    component_chunk: int = 4096,
    progress: bool = False,
) -> dict:
    """Chen et al. (2018)'s MIG with entropies of q(z_j | x) over the whole dataset.

    With N examples x_n of a full factor grid and Gaussian posteriors q(z | x_n) = N(mu_n, e^logvar_n):

      * one code z_n ~ q(z | x_n) is drawn per example (``z = distributions.gaussian_sample(k_z,
        mu, logvar)`` with ``k_z, k_sub = jax.random.split(key)``);
      * H(z_j) = -(1/S) sum_s log q(z_{s,j}),  q(z_j) = (1/N) sum_n q(z_j | x_n), over S =
        ``min(num_samples, N)`` of the codes chosen without replacement;
      * H(z_j | v_k) = (1/s_k) sum_v H(z_j | v_k = v), each term the same estimate restricted to
        the N/s_k examples with factor k equal to v (factor values are uniform on the grid);
      * I(z_j; v_k) = max(0, H(z_j) - H(z_j | v_k)), normalised by H(v_k) = log s_k, and the
        gap between the two largest per factor averaged over factors.

    This follows Chen et al.'s reference code (10,000 sampled codes per entropy, every example
    as a mixture component). Their dSprites number leaves out the shape factor; pass
    ``factors=("scale", "orientation", "pos_x", "pos_y")`` to reproduce that.

    Args:
      key: PRNG key (codes and subsets).
      encoder: either a function ``images -> (mu, logvar)`` (traceable; it is applied to every
        example of `dataset` in batches of `encode_batch_size`), or a pair ``(mu, logvar)`` of
        ``[N, D]`` arrays in the dataset's flat index order (``dataset.index_to_factors``).
      dataset: a :class:`~disentax.data.GroundTruthDataset` (its full grid is the data).
      num_samples: S, the codes per entropy estimate.
      factors: which factors to average over (names or indices); default all.
      encode_batch_size, sample_chunk, component_chunk: work sizes, no effect on the result
        beyond float rounding.
      progress: tqdm bars for the encoding and the entropy sums.

    Returns:
      ``{"mig", "per_factor" [K'], "mutual_info" [K', D] (nats), "marginal_entropy" [D],
      "conditional_entropy" [K', D], "factor_entropy" [K'], "factors" (names)}`` as python values.
    """
    require_factors(dataset, "mig_exact")
    sizes = tuple(int(s) for s in dataset.factor_sizes)
    n = math.prod(sizes)
    if callable(encoder):
        mu, logvar = encode_dataset(encoder, dataset, batch_size=encode_batch_size, progress=progress)
    else:
        mu, logvar = (jnp.asarray(a, jnp.float32) for a in encoder)
        if mu.ndim != 2 or mu.shape != logvar.shape or mu.shape[0] != n:
            raise ValueError(
                f"encoder arrays must be (mu, logvar) of shape [{n}, D] (one row per example of the grid), "
                f"got {mu.shape} and {logvar.shape}"
            )
    which = list(range(len(sizes))) if factors is None else [dataset.factor_index(f) for f in factors]
    which = [k for k in which if sizes[k] > 1]
    if not which:
        raise ValueError("mig_exact needs at least one factor with more than one value")
    k_z, k_sub = jax.random.split(key)
    z = dist.gaussian_sample(k_z, mu, logvar)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        work = min(num_samples, n) * n + sum(min(num_samples, n // sizes[k]) * n for k in which)
        bar = tqdm(total=work, desc="mig_exact", unit="pair", unit_scale=True, leave=False, dynamic_ncols=True)

    def entropy(k_pick, zs, mus, lvs):
        h = aggregate_entropy(k_pick, zs, mus, lvs, num_samples=num_samples,
                              sample_chunk=sample_chunk, component_chunk=component_chunk)
        if bar is not None:
            bar.update(min(num_samples, zs.shape[0]) * mus.shape[0])
        return h

    marginal = np.asarray(entropy(jax.random.fold_in(k_sub, 0), z, mu, logvar), dtype=np.float64)
    conditional = []
    for k in which:
        zg, mg, lg = (_factor_groups(a, sizes, k) for a in (z, mu, logvar))
        h = np.zeros(mu.shape[1])
        for v in range(sizes[k]):
            pick = jax.random.fold_in(jax.random.fold_in(k_sub, k + 1), v)
            h += np.asarray(entropy(pick, zg[v], mg[v], lg[v]), dtype=np.float64)
        conditional.append(h / sizes[k])
    if bar is not None:
        bar.close()
    conditional = np.stack(conditional)  # [K', D]
    mi = np.maximum(marginal[None, :] - conditional, 0.0)
    h_v = np.log(np.asarray([sizes[k] for k in which], dtype=np.float64))
    top = np.sort(mi, axis=1)[:, ::-1]
    second = top[:, 1] if top.shape[1] > 1 else np.zeros(len(which))
    per_factor = (top[:, 0] - second) / h_v
    return {
        "mig": float(np.mean(per_factor)),
        "per_factor": per_factor.tolist(),
        "mutual_info": mi.tolist(),
        "marginal_entropy": marginal.tolist(),
        "conditional_entropy": conditional.tolist(),
        "factor_entropy": h_v.tolist(),
        "factors": [dataset.factor_names[k] for k in which],
    }
