"""Multi-Entity VAE evaluations (Nash et al. 2017, Sec. 4): entity exchange, sequential decoding in
KL order, within-object traversals, spatial KL maps and unsupervised object counting.

Functions take a trained `disentax.models.mvae.MVAE` and its params; pictures are PNG grids made
with `disentax.viz.image_grid`.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax.objectives import reconstruction_mean
from disentax.viz import image_grid

LIKELIHOOD = "bernoulli"


def _jit(fn):
    """Compile a whole evaluation once per call: far cheaper than running a conv net op by op."""

    @functools.wraps(fn)
    def wrapped(model, params, *args, **static):
        return jax.jit(lambda p, *a: fn(model, p, *a, **static))(params, *args)

    return wrapped


def _encode(model, params, x):
    mu, logvar, kl, index, kl_map = model.apply({"params": params}, x, method=model.encode)
    return {"mu": mu, "logvar": logvar, "kl": kl, "index": index, "kl_map": kl_map}


def _decode(model, params, z):
    return reconstruction_mean(model.apply({"params": params}, z, method=model.decode), LIKELIHOOD)


@_jit
def encode_objects(model, params, x) -> dict:
    """Selected posteriors in descending KL order and the full KL map for images x [B, H, W, C]:
    dict(mu, logvar [B, N, D], kl [B, N], index [B, N], kl_map [B, S])."""
    return _encode(model, params, x)


@_jit
def decode_objects(model, params, z):
    """Mean images [B, H, W, C] for object latents z [B, n, D] (any n >= 1)."""
    return _decode(model, params, z)


def grid_shape(model, image_shape) -> tuple[int, int]:
    """(rows, cols) of the candidate grid: the image size divided by the encoder's pooling."""
    f = math.prod(int(p) for p in model.encoder.pools)
    return image_shape[0] // f, image_shape[1] // f


def kl_maps(model, params, x):
    """The spatial KL map of Nash et al. (2017), Fig. 2: KL of each candidate to the prior,
    [B, rows, cols]."""
    kl_map = encode_objects(model, params, x)["kl_map"]
    return kl_map.reshape(x.shape[0], *grid_shape(model, x.shape[1:]))


@_jit
def entity_exchange(model, params, x_a, x_b, slot: int = 0):
    """Nash et al. (2017), Sec. 4.1 / Fig. 3: encode two batches of scenes (posterior means),
    exchange object `slot` (0 = the highest-KL object) between each pair, decode. Returns
    (recon_a, recon_b, swapped_a, swapped_b), each [B, H, W, C]."""
    za, zb = _encode(model, params, x_a)["mu"], _encode(model, params, x_b)["mu"]
    if not 0 <= slot < za.shape[1]:
        raise ValueError(f"slot must be in [0, {za.shape[1]}), got {slot}")
    sa, sb = za.at[:, slot].set(zb[:, slot]), zb.at[:, slot].set(za[:, slot])
    return _decode(model, params, za), _decode(model, params, zb), _decode(model, params, sa), _decode(model, params, sb)


@_jit
def sequential_decoding(model, params, x):
    """Nash et al. (2017), Fig. 4b: decode the first n objects in descending KL order, n = 1..N
    -> [B, N, H, W, C]."""
    z = _encode(model, params, x)["mu"]
    return jnp.stack([_decode(model, params, z[:, :n]) for n in range(1, z.shape[1] + 1)], axis=1)


def object_traversals(model, params, x, slot: int = 0, dims=None, values=None):
    """Nash et al. (2017), Fig. 4a: traverse dimensions `dims` of object `slot` of one scene
    x [H, W, C] over `values` (default 9 points in [-2.25, 2.25]) with every other latent at its
    posterior mean.
    Returns [len(dims), len(values), H, W, C]."""
    dims = None if dims is None else tuple(int(d) for d in dims)
    values = None if values is None else tuple(float(v) for v in values)
    return _traverse(model, params, x, slot=int(slot), dims=dims, values=values)


@_jit
def _traverse(model, params, x, slot, dims, values):
    z = _encode(model, params, x[None])["mu"][0]  # [N, D]
    dims = list(range(z.shape[1])) if dims is None else list(dims)
    values = jnp.linspace(-2.25, 2.25, 9) if values is None else jnp.asarray(values, jnp.float32)
    zs = jnp.broadcast_to(z, (len(dims), values.shape[0], *z.shape))
    d_idx = jnp.asarray(dims)[:, None]
    zs = zs.at[jnp.arange(len(dims))[:, None], jnp.arange(values.shape[0])[None, :], slot, d_idx].set(values[None, :])
    imgs = _decode(model, params, zs.reshape(-1, *z.shape))
    return imgs.reshape(len(dims), values.shape[0], *imgs.shape[1:])


# ------------------------------------------------------------------------------- counting


def count_objects(kl_map, threshold):
    """Nash et al. (2017), Sec. 4.3: the object count of a scene is the number of candidates whose
    KL exceeds `threshold`. kl_map [B, S] (or [B, rows, cols]) -> int counts [B]."""
    kl_map = np.asarray(kl_map)
    return (kl_map.reshape(kl_map.shape[0], -1) > threshold).sum(axis=-1)


def choose_count_threshold(kl_map, counts):
    """The threshold maximising counting accuracy on (kl_map [B, S], true counts [B]).

    Exact search: with each scene's KLs sorted in descending order v_0 >= v_1 >= ..., the predicted
    count equals c exactly for thresholds t in [v_c, v_{c-1}) (v_{-1} = +inf, v_S = -inf). The best
    t is where most of these intervals overlap, found by a sweep over their end points; the
    midpoint of the winning stretch is returned. Returns (threshold, training accuracy).
    """
    kl = np.asarray(kl_map, np.float64)
    kl = kl.reshape(kl.shape[0], -1)
    counts = np.asarray(counts).astype(np.int64)
    b, s = kl.shape
    v = -np.sort(-kl, axis=1)
    padded = np.concatenate([np.full((b, 1), np.inf), v, np.full((b, 1), -np.inf)], axis=1)  # padded[:, c+1] = v_c
    ok = (counts >= 0) & (counts <= s)
    c = np.clip(counts, 0, s)
    lo = padded[np.arange(b), c + 1]
    hi = padded[np.arange(b), c]
    valid = ok & (lo < hi)
    lo, hi = lo[valid], hi[valid]
    if lo.size == 0:
        return 0.0, 0.0
    # Intervals are [lo, hi): an end at hi closes before a start at the same value opens.
    points = np.concatenate([lo, hi])
    delta = np.concatenate([np.ones_like(lo), -np.ones_like(hi)])
    order = np.lexsort((delta, points))  # at equal points, -1 (closing) first
    points, delta = points[order], delta[order]
    cover = np.cumsum(delta)
    # Only the last event at each distinct point gives the coverage on [point, next point).
    last = np.r_[points[1:] != points[:-1], True]
    best = np.flatnonzero(last)[np.argmax(cover[last])]
    start = points[best]
    nxt = points[best + 1] if best + 1 < points.size else np.inf
    if not np.isfinite(start):  # the stretch starts at -inf: any value below the next point works
        threshold = nxt - 1.0
    elif not np.isfinite(nxt):
        threshold = start + 1.0
    else:
        threshold = 0.5 * (start + nxt)
    return float(threshold), float(np.mean(count_objects(kl, threshold) == counts))


def counting_accuracy(kl_map, counts, threshold) -> float:
    """Fraction of scenes whose thresholded KL count equals the true count."""
    return float(np.mean(count_objects(kl_map, threshold) == np.asarray(counts)))


def evaluate_counting(model, params, dataset, key, n_train: int = 6400, n_test: int = 12800, batch: int = 256) -> dict:
    """Nash et al. (2017), Sec. 4.3: choose the KL threshold on `n_train` scenes, report accuracy on
    `n_test` fresh ones (the paper: 74.4% train / 72.6% test). dataset: `MultiDSprites`."""
    k_train, k_test = jax.random.split(key)
    encode = jax.jit(lambda x: _encode(model, params, x)["kl_map"])

    def maps(k, n):
        out_maps, out_counts = [], []
        for i, kk in enumerate(jax.random.split(k, -(-n // batch))):
            m = min(batch, n - i * batch)
            x, c = dataset.sample(kk, batch)
            out_maps.append(np.asarray(encode(x))[:m])
            out_counts.append(np.asarray(c)[:m])
        return np.concatenate(out_maps), np.concatenate(out_counts)

    m_train, c_train = maps(k_train, n_train)
    threshold, acc_train = choose_count_threshold(m_train, c_train)
    m_test, c_test = maps(k_test, n_test)
    return {"threshold": threshold, "train_accuracy": acc_train,
            "test_accuracy": counting_accuracy(m_test, c_test, threshold), "n_train": n_train, "n_test": n_test}


# ------------------------------------------------------------------------------- pictures


def _heat(kl_map_2d, size):
    """A KL map [rows, cols] as an RGB image [size, size, 3] scaled to its own maximum."""
    m = np.asarray(kl_map_2d, np.float32)
    m = m / max(float(m.max()), 1e-8)
    rep = size // m.shape[0]
    m = np.repeat(np.repeat(m, rep, 0), rep, 1)
    return np.stack([m, 0.6 * m, 0.2 * m], axis=-1)


def write_mvae_pictures(model, params, key, workdir, dataset, n: int = 8) -> list[Path]:
    """kl_maps.png (inputs / reconstructions / KL maps), entity_exchange.png, sequential_decoding.png
    and object_traversals.png in `workdir`, from `n` scenes of `dataset` (and `n` more to exchange with)."""
    workdir = Path(workdir)
    n = int(n)
    k_a, k_b = jax.random.split(key)
    x_a = dataset.sample(k_a, n)[0]
    x_b = dataset.sample(k_b, n)[0]
    size = x_a.shape[1]
    paths = []

    ra, rb, sa, sb = (np.asarray(v) for v in entity_exchange(model, params, x_a, x_b))
    maps = np.asarray(kl_maps(model, params, x_a))
    image_grid([list(np.asarray(x_a)), list(ra), [_heat(m, size) for m in maps]]).save(workdir / "kl_maps.png")
    paths.append(workdir / "kl_maps.png")
    image_grid([list(np.asarray(x_a)), list(np.asarray(x_b)), list(ra), list(rb), list(sa), list(sb)]).save(
        workdir / "entity_exchange.png")
    paths.append(workdir / "entity_exchange.png")
    seq = np.asarray(sequential_decoding(model, params, x_a))
    image_grid([[np.asarray(x_a[i])] + list(seq[i]) for i in range(n)]).save(workdir / "sequential_decoding.png")
    paths.append(workdir / "sequential_decoding.png")
    trav = np.asarray(object_traversals(model, params, x_a[0], slot=0))
    image_grid([list(row) for row in trav]).save(workdir / "object_traversals.png")
    paths.append(workdir / "object_traversals.png")
    return paths


__all__ = [
    "choose_count_threshold", "count_objects", "counting_accuracy", "decode_objects", "encode_objects",
    "entity_exchange", "evaluate_counting", "grid_shape", "kl_maps", "object_traversals", "sequential_decoding",
    "write_mvae_pictures",
]
