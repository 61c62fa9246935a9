"""The β-VAE disentanglement metric (Higgins et al. 2017, "β-VAE: Learning Basic Visual Concepts
with a Constrained Variational Framework", Sec. 3; discussed by Kim & Mnih 2018).

One training point: pick a factor k uniformly; draw ``batch_size`` pairs of examples where the two
examples of a pair share the value of factor k (all other factors independent); the input is the
mean over pairs of |r(x_1) - r(x_2)| per code dimension, the label is k. A linear classifier
(logistic regression) predicts k; the score is its accuracy on fresh points.

Protocol as in disentanglement_lib (``beta_vae_sklearn``): batch 64, 10,000 training and 5,000
evaluation points, the shared value drawn per pair, ``sklearn.linear_model.LogisticRegression``
with default settings. A perfectly disentangled code scores 1, an uninformative one about
1 / (number of factors) (chance), not 0. The metric cannot see a factor that no code captures:
its pairs simply have no zero coordinate, which is itself a recognisable pattern (Kim & Mnih's
critique; see :mod:`disentax.metrics.factor_vae`).

`beta_vae_changed_score` is the metric's earlier form (Higgins et al. 2016), in which a pair's two
images differ in one factor instead of sharing one; Peychev et al. (2018) score their β sweep with it.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from disentax.metrics.utils import encode_batches, host_stream, on_host, require_factors

__all__ = ["beta_vae_changed_score", "beta_vae_score"]


def _pair_factors(dataset: Any, batch_size: int, points: int, key: jax.Array):
    """Factors ``[2 * points * batch_size, K]`` of the pairs (first examples, then partners) and
    the factor ``idx [points]`` each point shares."""
    k = dataset.num_factors
    k_idx, k_a, k_b = jax.random.split(key, 3)
    idx = jax.random.randint(k_idx, (points,), 0, k)
    fa = dataset.sample_factors(k_a, points * batch_size).reshape(points, batch_size, k)
    fb = dataset.sample_factors(k_b, points * batch_size).reshape(points, batch_size, k)
    # Pair i of point p shares the value of factor idx[p] (drawn per pair, like disentanglement_lib).
    fb = jnp.where(jnp.arange(k)[None, None, :] == idx[:, None, None], fa, fb)
    return jnp.concatenate([fa, fb]).reshape(2 * points * batch_size, k), idx


def _pair_features(codes: jax.Array, batch_size: int, points: int) -> jax.Array:
    """Mean over the pairs of ``|r(x_1) - r(x_2)|``: ``[points, D]``."""
    codes = codes.reshape(2, points, batch_size, codes.shape[-1])
    return jnp.mean(jnp.abs(codes[0] - codes[1]), axis=1)


def _changed_factors(dataset: Any, batch_size: int, points: int, key: jax.Array):
    """Factors ``[2 * points, K]`` (first examples, then partners) of pairs that differ in exactly
    one factor, and that factor ``idx [points]``: the partner's value is uniform over the others."""
    del batch_size  # one pair per point
    sizes = jnp.asarray(dataset.factor_sizes, jnp.int32)
    k_idx, k_a, k_v = jax.random.split(key, 3)
    idx = jax.random.randint(k_idx, (points,), 0, dataset.num_factors)
    fa = dataset.sample_factors(k_a, points)
    # A shift of 1 .. s_k - 1 (mod s_k) reaches every other value of factor k with equal chance.
    shift = 1 + jnp.floor(jax.random.uniform(k_v, (points,)) * (sizes[idx] - 1)).astype(jnp.int32)
    changed = (fa[jnp.arange(points), idx] + shift) % sizes[idx]
    fb = fa.at[jnp.arange(points), idx].set(changed)
    return jnp.concatenate([fa, fb]), idx


def _changed_features(codes: jax.Array, batch_size: int, points: int) -> jax.Array:
    """``|z_1 − z_2| / max_d |z_1 − z_2|`` per pair, ``[points, D]``; a pair whose codes are equal
    (its images rasterise alike) gives zeros, not 0/0."""
    del batch_size
    d = jnp.abs(codes[:points] - codes[points:])
    top = jnp.max(d, axis=-1, keepdims=True)
    return jnp.where(top > 0, d / jnp.where(top > 0, top, 1.0), 0.0)


def _feature_fn(representation_fn: Callable, dataset: Any, batch_size: int, points: int,
                pairs: Callable = _pair_factors, features: Callable = _pair_features):
    if on_host(dataset):
        # The device path's draws, but the images are read on the host between two jitted parts.
        # Not cached: equal host datasets may still read different sources (other data dirs
        # mounted, mock data in tests), so closures must not outlive this call.
        draw = jax.jit(functools.partial(pairs, dataset, batch_size, points))
        reduce = jax.jit(functools.partial(features, batch_size=batch_size, points=points))

        def read(key):
            factors, idx = draw(key)
            return dataset.render(factors), idx

        def from_images(images, idx):
            return reduce(encode_batches(representation_fn, images)), idx

        return read, from_images

    return _device_feature_fn(representation_fn, dataset, batch_size, points, pairs, features)


@functools.lru_cache(maxsize=16)
def _device_feature_fn(representation_fn: Callable, dataset: Any, batch_size: int, points: int,
                       pairs: Callable, features: Callable):
    def point_features(key):
        factors, idx = pairs(dataset, batch_size, points, key)
        codes = representation_fn(dataset.render(factors))
        return features(codes, batch_size, points), idx

    return None, jax.jit(point_features)


def _points(key, fns, num, points, bar):
    read, fn = fns
    count = -(-num // points)
    keys = [jax.random.fold_in(key, i) for i in range(count)]
    calls = (fn(k) for k in keys) if read is None else (fn(*r) for r in host_stream(lambda i: read(keys[i]), count))
    feats, labels = [], []
    for f, y in calls:
        feats.append(f)
        labels.append(y)
        if bar is not None:
            bar.update(points)
    return np.asarray(jnp.concatenate(feats))[:num], np.asarray(jnp.concatenate(labels))[:num]


def beta_vae_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    points_per_call: int = 16,
    progress: bool = False,
) -> dict:
    """β-VAE metric of ``representation_fn`` (images -> codes [B, D], traceable) on a factor dataset.

    Returns ``{"train_accuracy", "eval_accuracy"}``. `points_per_call` training points are
    generated per jitted call (speed only). Uses ``dataset.sample_factors`` and ``dataset.render``;
    for a host dataset (``dataset.on_host``) the images are read outside ``jit`` and encoded in
    fixed-size jitted batches, with the same factor draws for the same key.
    """
    return _score(key, representation_fn, dataset, "beta_vae", int(batch_size), num_train, num_eval,
                  points_per_call, progress, _pair_factors, _pair_features)


def beta_vae_changed_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    points_per_call: int = 256,
    progress: bool = False,
) -> dict:
    """The earlier β-VAE metric, in which the two images of a pair differ in one factor (Higgins et
    al. (2016), "Early visual concept learning"; the variant Peychev et al. (2018), Sec. 3.1.2, use).

    One point: draw factors v_1, pick a factor k uniformly and change its value to another one
    drawn uniformly, v_2; the feature is |z_1 − z_2| / max_d |z_1 − z_2| for z = `representation_fn`
    of the two images (one pair per point, no averaging), the label is k. A linear classifier
    (`LogisticRegression`, as `beta_vae_score`) predicts k; returns ``{"train_accuracy",
    "eval_accuracy"}``. A pair whose codes coincide (a square turned by 90°, say) has the zero
    feature. Chance is 1 / (number of factors). `points_per_call` pairs are encoded per jitted call.
    """
    return _score(key, representation_fn, dataset, "beta_vae_changed", 1, num_train, num_eval,
                  points_per_call, progress, _changed_factors, _changed_features)


def _score(key, representation_fn, dataset, name, batch_size, num_train, num_eval, points_per_call, progress,
           pairs, features) -> dict:
    require_factors(dataset, name)
    if dataset.num_factors < 2:
        raise ValueError(f"{name} needs at least 2 factors, got {dataset.num_factors}")
    points = max(1, int(points_per_call))
    fn = _feature_fn(representation_fn, dataset, batch_size, points, pairs, features)
    k_tr, k_ev, k_clf = jax.random.split(key, 3)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_train + num_eval, desc=name, unit="pt", leave=False, dynamic_ncols=True)
    x_tr, y_tr = _points(k_tr, fn, int(num_train), points, bar)
    x_ev, y_ev = _points(k_ev, fn, int(num_eval), points, bar)
    if bar is not None:
        bar.close()
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y_tr)) < 2:
        raise ValueError(f"{name} drew a single factor for all training points; use more points")
    seed = int(jax.random.randint(k_clf, (), 0, 2**31 - 1))
    model = LogisticRegression(random_state=seed).fit(x_tr, y_tr)
    return {
        "train_accuracy": float(np.mean(model.predict(x_tr) == y_tr)),
        "eval_accuracy": float(np.mean(model.predict(x_ev) == y_ev)),
    }
