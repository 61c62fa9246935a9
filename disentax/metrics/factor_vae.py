"""The FactorVAE disentanglement metric (Kim & Mnih 2018, "Disentangling by Factorising", Sec. 4).

One training point: pick a factor k uniformly, draw ``batch_size`` examples that all share one
value of factor k (the others uniform), divide each code dimension's empirical variance over the
batch by its global variance (i.e. rescale by the empirical std over the data), and take the
dimension d with the smallest ratio; the point is the vote (d, k). The classifier is the majority
vote: each dimension predicts the factor it collected most votes for; the score is its accuracy
on fresh votes.

Protocol exactly as disentanglement_lib's ``factor_vae_score`` with the unsupervised-study
configuration: batch 64, 10,000 training and 5,000 evaluation votes, global variances (ddof=1)
from 10,000 examples, and dimensions whose global *standard deviation* is below
``prune_threshold = 0.05`` (``prune_dims.threshold``) pruned as collapsed; no surviving dimension
gives 0. Differences that do not change the score: the argmin over the surviving dimensions is
mapped back to the original dimension index (disentanglement_lib votes with the index inside the
surviving subset, a relabelling of the classifier's inputs), and ``num_active_dims`` is the
number of surviving dimensions (disentanglement_lib reports all of them).

Kim & Mnih define the metric as the majority-vote classifier's accuracy (higher is better), and
that is what ``train_accuracy``/``eval_accuracy`` stay. Papers that quote it as the classifier's
error rate report the complement, so the returned dict also carries
``error_rate = 1 - eval_accuracy`` (evaluation votes) for comparing against those numbers.

Kim & Mnih (2018, footnote 1) score dSprites without the shape factor: ``exclude_factors=("shape",)``
never holds an excluded factor fixed (it still varies inside every vote's batch), so the votes,
and the chance level, cover the other factors only. The default excludes none, as
disentanglement_lib.

Because of the rescaling, the score is invariant to scaling any code dimension (as long as it
stays above the pruning threshold). An uninformative code scores about 1 / (number of factors).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from disentax.metrics.utils import encode_batches, host_stream, on_host, require_factors, sample_codes

__all__ = ["factor_vae_score", "majority_vote_accuracy"]


def _vote_factors(dataset: Any, batch_size: int, points: int, key: jax.Array, allowed: tuple | None = None):
    """The fixed factor ``idx [points]`` of each vote (uniform over ``allowed``, default all) and
    the factors ``[points * batch_size, K]``."""
    k = dataset.num_factors
    k_idx, k_f = jax.random.split(key)
    if allowed is None:
        idx = jax.random.randint(k_idx, (points,), 0, k)
    else:
        idx = jnp.asarray(allowed, jnp.int32)[jax.random.randint(k_idx, (points,), 0, len(allowed))]
    f = dataset.sample_factors(k_f, points * batch_size).reshape(points, batch_size, k)
    # Within point p every example takes the first example's value of factor idx[p]: the
    # batch of dataset.sample_with_fixed(key, batch_size, idx[p]), with idx traced.
    f = jnp.where(jnp.arange(k)[None, None, :] == idx[:, None, None], f[:, :1, :], f)
    return idx, f.reshape(points * batch_size, k)


def _votes(codes: jax.Array, idx: jax.Array, global_var: jax.Array, active: jax.Array,
           batch_size: int, points: int):
    """``(idx, argmin_d local_var_d / global_var_d)`` over the active dimensions of each vote."""
    codes = codes.reshape(points, batch_size, codes.shape[-1])
    local_var = jnp.var(codes, axis=1, ddof=1)
    ratio = jnp.where(active[None, :], local_var / jnp.where(active, global_var, 1.0)[None, :], jnp.inf)
    return idx, jnp.argmin(ratio, axis=1)


def _vote_fn(representation_fn: Callable, dataset: Any, batch_size: int, points: int, allowed: tuple | None):
    if on_host(dataset):
        # The device path's draws, but the images are read on the host between two jitted parts.
        # Not cached: equal host datasets may still read different sources (other data dirs
        # mounted, mock data in tests), so closures must not outlive this call.
        draw = jax.jit(functools.partial(_vote_factors, dataset, batch_size, points, allowed=allowed))
        vote = jax.jit(functools.partial(_votes, batch_size=batch_size, points=points))

        def read(key):
            idx, factors = draw(key)
            return idx, dataset.render(factors)

        def from_images(idx, images, global_var, active):
            return vote(encode_batches(representation_fn, images), idx, global_var, active)

        return read, from_images

    return _device_vote_fn(representation_fn, dataset, batch_size, points, allowed)


@functools.lru_cache(maxsize=16)
def _device_vote_fn(representation_fn: Callable, dataset: Any, batch_size: int, points: int, allowed: tuple | None):
    def votes(key, global_var, active):
        idx, factors = _vote_factors(dataset, batch_size, points, key, allowed)
        codes = representation_fn(dataset.render(factors))
        return _votes(codes, idx, global_var, active, batch_size, points)

    return None, jax.jit(votes)


def _allowed_factors(dataset: Any, exclude: Sequence[int | str]) -> tuple | None:
    """The factor indices a vote may hold fixed: all (None) unless ``exclude`` names some."""
    if not exclude:
        return None
    names = list(dataset.factor_names)
    excluded = set()
    for f in exclude:
        if isinstance(f, str):
            if f not in names:
                raise ValueError(f"factor_vae: exclude_factors names {f!r}, not a factor of {dataset.name}: {names}")
            excluded.add(names.index(f))
        elif not 0 <= int(f) < len(names):
            raise ValueError(f"factor_vae: exclude_factors index {f} is outside 0..{len(names) - 1}")
        else:
            excluded.add(int(f))
    allowed = tuple(k for k in range(len(names)) if k not in excluded)
    if not allowed:
        raise ValueError(f"factor_vae: exclude_factors leaves no factor to hold fixed ({names})")
    return allowed


def majority_vote_accuracy(train_votes: Any, eval_votes: Any) -> tuple[float, float]:
    """Accuracies of the majority-vote classifier of ``train_votes [K, D]`` (counts of (factor, dim)).

    Dimension d predicts ``argmax_k train_votes[k, d]``; accuracy = votes on the predicted
    (factor, dim) cells / all votes, on the training and on the evaluation counts.
    """
    tr, ev = np.asarray(train_votes), np.asarray(eval_votes)
    winner = np.argmax(tr, axis=0)
    cols = np.arange(tr.shape[1])
    return float(tr[winner, cols].sum() / tr.sum()), float(ev[winner, cols].sum() / ev.sum())


def factor_vae_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    points_per_call: int = 16,
    progress: bool = False,
    exclude_factors: Sequence[int | str] = (),
) -> dict:
    """FactorVAE metric of ``representation_fn`` (images -> codes [B, D], traceable).

    Returns ``{"train_accuracy", "eval_accuracy", "error_rate", "num_active_dims"}`` with
    accuracy = sum_d votes[argmax_k votes_train[k, d], d] / sum votes (Kim & Mnih 2018) and
    ``error_rate = 1 - eval_accuracy``. Uses
    ``dataset.sample_factors``/``render`` (the fixed factor is traced, so one compilation
    serves every factor); `points_per_call` votes are made per jitted call (speed only). For a
    host dataset (``dataset.on_host``) the images are read outside ``jit`` and encoded in
    fixed-size jitted batches, with the same factor draws for the same key. ``exclude_factors``
    (names or indices) are never the fixed factor of a vote (Kim & Mnih's footnote 1: shape).
    """
    require_factors(dataset, "factor_vae")
    allowed = _allowed_factors(dataset, exclude_factors)
    k_var, k_tr, k_ev = jax.random.split(key, 3)
    codes, _ = sample_codes(k_var, representation_fn, dataset, num_variance_estimate, progress=progress,
                            desc="factor_vae variances")
    global_var = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    if not np.any(active):
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "error_rate": 1.0, "num_active_dims": 0}
    points = max(1, int(points_per_call))
    read, fn = _vote_fn(representation_fn, dataset, int(batch_size), points, allowed)
    num_factors, num_dims = dataset.num_factors, codes.shape[1]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_train + num_eval, desc="factor_vae", unit="vote", leave=False, dynamic_ncols=True)

    def tally(k, num):
        votes = np.zeros((num_factors, num_dims), dtype=np.int64)
        gv, act = jnp.asarray(global_var, jnp.float32), jnp.asarray(active)
        count = -(-num // points)
        keys = [jax.random.fold_in(k, i) for i in range(count)]
        if read is None:
            calls = (fn(key, gv, act) for key in keys)
        else:
            calls = (fn(*r, gv, act) for r in host_stream(lambda i: read(keys[i]), count))
        idxs, dims = [], []
        for idx, dim in calls:
            idxs.append(idx)
            dims.append(dim)
            if bar is not None:
                bar.update(points)
        idx = np.asarray(jnp.concatenate(idxs))[:num]
        dim = np.asarray(jnp.concatenate(dims))[:num]
        np.add.at(votes, (idx, dim), 1)
        return votes

    train_votes = tally(k_tr, int(num_train))
    eval_votes = tally(k_ev, int(num_eval))
    if bar is not None:
        bar.close()
    train_acc, eval_acc = majority_vote_accuracy(train_votes, eval_votes)
    return {"train_accuracy": train_acc, "eval_accuracy": eval_acc, "error_rate": 1.0 - eval_acc,
            "num_active_dims": int(active.sum())}
