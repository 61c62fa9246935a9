"""Entropies of the aggregate posterior and per-dimension mutual information, in JAX.

The aggregate posterior of a data set {x_n} (n = 1..M) is the mixture q(z) = (1/M) sum_n q(z | x_n).
With Gaussian q(z | x_n) its per-dimension entropy H(z_d) = -E_{q(z_d)} log q(z_d) has no closed
form; :func:`aggregate_entropy` estimates it by Monte Carlo over codes z_s ~ q(z | x_s), evaluating
the mixture density *exactly* over all M components:

    H(z_d) ~= -(1/S) sum_s log (1/M) sum_n N(z_{s,d}; mu_{n,d}, exp(logvar_{n,d})).

The S x M x D log-densities are never materialised: samples and components are processed in
chunks with a running ``logaddexp``, jitted, so M can be all 737,280 dSprites images.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from disentax import distributions as dist
from disentax.metrics.utils import encode_batches, host_stream, on_host

__all__ = ["aggregate_entropy", "encode_dataset", "mutual_information_per_dim"]

_LOG_2PI = math.log(2.0 * math.pi)


@functools.partial(jax.jit, static_argnames=("sample_chunk", "component_chunk"))
def _mean_neg_log_density(z, z_mask, mu, logvar, m_mask, *, sample_chunk, component_chunk):
    """-(1/#valid z) sum_s log[(1/#valid m) sum_m N(z_s; mu_m, e^logvar_m)] per dim, [D].

    Shapes: z [S, D] with S a multiple of sample_chunk, mu/logvar [M, D] with M a multiple of
    component_chunk; masks mark real (not padding) rows, which get density zero (log -inf).
    """
    d = z.shape[-1]
    inv_var = jnp.exp(-logvar)
    # log N = const_m - 0.5 (z - mu)^2 / var: the per-component part is hoisted out of the loop.
    const = jnp.where(m_mask[:, None], -0.5 * (_LOG_2PI + logvar), -jnp.inf)
    comps = tuple(a.reshape(-1, component_chunk, d) for a in (mu, inv_var, const))

    def log_mixture(zc):  # zc [sample_chunk, D] -> log sum_m N(zc; m) [sample_chunk, D]
        def body(acc, comp):
            mu_c, iv_c, c_c = comp
            lp = c_c[None] - 0.5 * jnp.square(zc[:, None, :] - mu_c[None]) * iv_c[None]
            return jnp.logaddexp(acc, jax.nn.logsumexp(lp, axis=1)), None

        acc0 = jnp.full(zc.shape, -jnp.inf, zc.dtype)
        return jax.lax.scan(body, acc0, comps)[0]

    log_sum = jax.lax.map(log_mixture, z.reshape(-1, sample_chunk, d)).reshape(-1, d)
    log_q = log_sum - jnp.log(jnp.sum(m_mask))
    w = z_mask.astype(z.dtype)
    return -jnp.sum(log_q * w[:, None], axis=0) / jnp.sum(w)


def _pad_rows(a: jax.Array, rows: int) -> jax.Array:
    return jnp.pad(a, ((0, rows - a.shape[0]), (0, 0)))


def aggregate_entropy(
    key: jax.Array,
    z: Any,
    mu: Any,
    logvar: Any,
    *,
    num_samples: int | None = 10_000,
    sample_chunk: int = 256,
    component_chunk: int = 4096,
    pad_to: int | None = None,
) -> jax.Array:
    """Monte-Carlo estimate of H(z_d) per dimension for the mixture of the M Gaussians (mu, logvar).

    ``z [M, D]`` holds one code drawn from each component (z_m ~ q(z | x_m)); ``min(num_samples, M)``
    of them (chosen without replacement with `key`; all of them when ``num_samples`` is None or
    >= M) are scored against all M components, see the module docstring. `pad_to` pads the
    component count (with masked rows) so that calls with different M share one compilation.
    Returns ``[D]`` nats (float32).
    """
    z, mu, logvar = (jnp.asarray(a, jnp.float32) for a in (z, mu, logvar))
    if z.ndim != 2 or z.shape != mu.shape or mu.shape != logvar.shape:
        raise ValueError(f"z, mu and logvar must share one shape [M, D], got {z.shape}, {mu.shape}, {logvar.shape}")
    m = mu.shape[0]
    if m < 1:
        raise ValueError("aggregate_entropy needs at least one component")
    rows = max(m, int(pad_to or 0))
    s = m if num_samples is None else max(1, min(int(num_samples), m))
    if s < m:
        z = z[jax.random.permutation(key, m)[:s]]
    s_cap = rows if num_samples is None else max(1, min(int(num_samples), rows))
    sc = max(1, min(int(sample_chunk), s_cap))
    mc = max(1, min(int(component_chunk), rows))
    s_rows = -(-s_cap // sc) * sc
    m_rows = -(-rows // mc) * mc
    z_mask = jnp.arange(s_rows) < s
    m_mask = jnp.arange(m_rows) < m
    return _mean_neg_log_density(
        _pad_rows(z, s_rows), z_mask, _pad_rows(mu, m_rows), _pad_rows(logvar, m_rows), m_mask,
        sample_chunk=sc, component_chunk=mc,
    )


def encode_dataset(encoder: Callable, dataset: Any, batch_size: int = 1024, progress: bool = False):
    """``(mu, logvar)``, each ``[N, D]``, of every example of a ground-truth dataset in flat index order.

    `encoder` maps images ``[B, ...]`` to ``(mu, logvar)``; it is jitted together with
    ``dataset.images_from_indices`` (for a host dataset, ``dataset.on_host``, the images are
    read outside ``jit`` in a background thread and `encoder` alone is jitted). The last batch
    is padded by repeating the final index.
    """
    n = int(dataset.num_examples)
    batch_size = max(1, min(int(batch_size), n))
    starts = list(range(0, n, batch_size))

    def indices(start):
        return jnp.minimum(jnp.arange(start, start + batch_size, dtype=jnp.int32), n - 1)

    if on_host(dataset):
        reads = host_stream(lambda i: dataset.images_from_indices(np.asarray(indices(starts[i]))), len(starts))
        outputs = (encode_batches(encoder, images, batch_size) for images in reads)
    else:
        run = jax.jit(lambda idx: encoder(dataset.images_from_indices(idx)))
        outputs = (run(indices(start)) for start in starts)
    if progress:
        from tqdm.auto import tqdm

        outputs = tqdm(outputs, total=len(starts), desc="encode dataset", unit="batch", leave=False,
                       dynamic_ncols=True)
    mus, logvars = [], []
    for start, (mu, logvar) in zip(starts, outputs):
        take = min(batch_size, n - start)
        mus.append(mu[:take])
        logvars.append(logvar[:take])
    return jnp.concatenate(mus).astype(jnp.float32), jnp.concatenate(logvars).astype(jnp.float32)


def _class_entropies(key, z, mu, logvar, labels, num_samples, *, sample_chunk, component_chunk):
    """sum_c p(c) H(z_d | y = c) for one label column, all classes in one vmapped call."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    num_classes, largest = len(classes), int(counts.max())
    s_cap = largest if num_samples is None else max(1, min(int(num_samples), largest))
    # A random subset per class without replacement: the class's rows with the smallest uniforms.
    u = np.asarray(jax.random.uniform(key, (len(labels),)))
    comp_idx = np.zeros((num_classes, largest), np.int64)
    comp_mask = np.zeros((num_classes, largest), bool)
    samp_idx = np.zeros((num_classes, s_cap), np.int64)
    samp_mask = np.zeros((num_classes, s_cap), bool)
    for c in range(num_classes):
        rows = np.flatnonzero(inverse == c)
        comp_idx[c, :len(rows)], comp_mask[c, :len(rows)] = rows, True
        picked = rows[np.argsort(u[rows])[:s_cap]]
        samp_idx[c, :len(picked)], samp_mask[c, :len(picked)] = picked, True
    d = mu.shape[1]
    mc = max(1, min(int(component_chunk), largest))
    # Bound the vmapped [classes, samples, components, D] block to ~2^26 floats.
    sc = max(1, min(int(sample_chunk), s_cap, (1 << 26) // max(1, num_classes * mc * d)))
    s_rows, m_rows = -(-s_cap // sc) * sc, -(-largest // mc) * mc
    pad = lambda a, rows: np.pad(a, ((0, 0), (0, rows - a.shape[1])))  # noqa: E731
    samp_idx, samp_mask = pad(samp_idx, s_rows), pad(samp_mask, s_rows)
    comp_idx, comp_mask = pad(comp_idx, m_rows), pad(comp_mask, m_rows)
    kernel = functools.partial(_mean_neg_log_density, sample_chunk=sc, component_chunk=mc)
    h = jax.vmap(kernel)(z[samp_idx], jnp.asarray(samp_mask), mu[comp_idx], logvar[comp_idx], jnp.asarray(comp_mask))
    return np.sum(counts[:, None] / len(labels) * np.asarray(h, np.float64), axis=0)


def mutual_information_per_dim(
    key: jax.Array,
    mu: Any,
    logvar: Any,
    labels: Any = None,
    *,
    num_samples: int | None = 10_000,
    sample_chunk: int = 256,
    component_chunk: int = 4096,
) -> dict:
    """I(x; z_d) per latent dimension (Esmaeili et al. 2019, Fig. 4) and, given labels, I(y; z_d).

    The N rows of (mu, logvar) stand for the data distribution (uniform over the N examples), so

        I(x; z_d) = H(z_d) - (1/N) sum_n H[q(z_d | x_n)],   H[N(mu, e^lv)] = (log 2 pi e + lv) / 2,
        I(y; z_d) = H(z_d) - sum_c p(c) H(z_d | y = c),

    where H(z_d) and H(z_d | y = c) are :func:`aggregate_entropy` estimates over all N (resp. the
    N_c examples of class c) with codes z_n ~ q(z | x_n) drawn from ``jax.random.split(key)[0]``.
    I(x; z_d) is at most log N, the entropy of the empirical data distribution.

    Args:
      key: PRNG key.
      mu, logvar: ``[N, D]`` encoder outputs.
      labels: optional integer labels ``[N]`` or ``[N, K]`` (e.g. ground-truth factors).
      num_samples: codes per entropy estimate (None: all).

    Returns:
      ``{"mi_x": [D]}`` plus ``"mi_y": [D]`` (``[K, D]`` for 2-D labels) in nats, python lists.
    """
    mu, logvar = jnp.asarray(mu, jnp.float32), jnp.asarray(logvar, jnp.float32)
    if mu.ndim != 2 or mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must share one shape [N, D], got {mu.shape} and {logvar.shape}")
    k_z, k_sub = jax.random.split(key)
    z = dist.gaussian_sample(k_z, mu, logvar)
    opts = dict(num_samples=num_samples, sample_chunk=sample_chunk, component_chunk=component_chunk)
    h_z = np.asarray(aggregate_entropy(jax.random.fold_in(k_sub, 0), z, mu, logvar, **opts), np.float64)
    h_cond_x = np.mean(np.asarray(dist.gaussian_entropy(logvar), np.float64), axis=0)
    out = {"mi_x": (h_z - h_cond_x).tolist()}
    if labels is None:
        return out
    y = np.asarray(labels)
    squeeze = y.ndim == 1
    y = y[:, None] if squeeze else y
    if y.ndim != 2 or y.shape[0] != mu.shape[0] or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape [N] or [N, K] with N = {mu.shape[0]}, got {y.dtype} {y.shape}")
    opts.pop("num_samples")
    mi_y = [(h_z - _class_entropies(jax.random.fold_in(k_sub, k + 1), z, mu, logvar, y[:, k], num_samples, **opts)).tolist()
            for k in range(y.shape[1])]
    out["mi_y"] = mi_y[0] if squeeze else mi_y
    return out
