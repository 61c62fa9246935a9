"""Grouped observations for the ML-VAE (Bouchacourt et al. 2018, Sec. 3.2).

A group is a set of observations sharing the value of one factor (its *content*) while the
other factors vary freely. A batch of groups is flat: images [B, H, W, C] plus `segment_ids`
[B] (int32, sorted, in [0, G)) naming each image's group, so groups of different sizes batch
together and the per-group sums are `jax.ops.segment_sum` over a fixed number G of segments.

- dSprites (any `GroundTruthDataset`): each group draws one value of the chosen factor, every
  other factor is uniform per image.
- digits: each group draws one label, then images of that label uniformly.
- TFDS image splits with class labels (MNIST, SVHN, ...; read on the host): the same draws as
  digits from the same keys, made eagerly with the class tables of `disentax.data.class_index`.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.base import GroundTruthDataset
from disentax.data.class_index import class_index, host_rows, is_label_images
from disentax.data.host_pipeline import replicated

__all__ = [
    "segment_ids_from_sizes",
    "random_segment_ids",
    "group_counts",
    "sample_groups",
    "group_batch_sampler",
    "chunk_by_label",
]


def segment_ids_from_sizes(sizes: Sequence[int]) -> np.ndarray:
    """Static group sizes (n_0, ..., n_{G-1}) -> sorted segment ids [sum n_g] (0 repeated n_0 times, ...)."""
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"group sizes must be positive integers, got {sizes}")
    return np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)


def random_segment_ids(key, batch_size: int, num_groups: int) -> jax.Array:
    """A uniformly random composition of `batch_size` into `num_groups` non-empty groups.

    Picks G−1 distinct cut points among the B−1 gaps between consecutive slots; the segment id of
    slot b is the number of cuts at or before it. Shapes are static, so this jits once for ragged
    group sizes that change every step.
    """
    batch_size, num_groups = int(batch_size), int(num_groups)
    if not 1 <= num_groups <= batch_size:
        raise ValueError(f"num_groups must be in [1, batch_size={batch_size}], got {num_groups}")
    gaps = jax.random.permutation(key, batch_size - 1)[: num_groups - 1] + 1  # cut before slot `gap`
    starts = jnp.zeros((batch_size,), jnp.int32).at[gaps].set(1)
    return jnp.cumsum(starts).astype(jnp.int32)


def group_counts(segment_ids, num_groups: int) -> jax.Array:
    """Number of members per group [G]."""
    return jax.ops.segment_sum(jnp.ones_like(segment_ids, jnp.int32), segment_ids, num_segments=int(num_groups))


def _factor_column(dataset, factor) -> int:
    return dataset.factor_index(factor)


def sample_groups(dataset, key, segment_ids, num_groups: int, factor=0) -> dict:
    """Images grouped by `factor`: each group shares one uniformly drawn value of it.

    Returns {"x": images [B, ...], "segment_ids": [B], "group_values": [G], "factors": [B, K]}.
    """
    if is_label_images(dataset):
        return _sample_label_image_groups(dataset, key, segment_ids, int(num_groups), factor)
    segment_ids = jnp.asarray(segment_ids, jnp.int32)
    num_groups = int(num_groups)
    column = _factor_column(dataset, factor)
    k_values, k_rest = jax.random.split(key)
    values = jax.random.randint(k_values, (num_groups,), 0, dataset.factor_sizes[column], dtype=jnp.int32)
    per_obs = values[segment_ids]
    if isinstance(dataset, GroundTruthDataset):
        factors = dataset.sample_factors(k_rest, segment_ids.shape[0]).at[:, column].set(per_obs)
        images = dataset.render(factors)
    elif hasattr(dataset, "sample_with_labels"):
        images, factors = dataset.sample_with_labels(k_rest, per_obs)
    else:
        raise TypeError(f"cannot group {type(dataset).__name__}: needs GroundTruthDataset or sample_with_labels")
    return {"x": images, "segment_ids": segment_ids, "group_values": values, "factors": factors}


def _sample_label_image_groups(dataset, key, segment_ids, num_groups: int, factor) -> dict:
    """`sample_groups` for a host-read TFDS split: numpy arrays, this host's rows of the batch."""
    view = class_index(dataset, factor)
    segment_ids = np.asarray(segment_ids, np.int32)
    k_values, k_rest = jax.random.split(key)
    values = np.asarray(jax.random.randint(k_values, (num_groups,), 0, view.factor_sizes[0], dtype=jnp.int32))
    idx = view.indices_with_labels(k_rest, values[segment_ids])
    rows = host_rows(dataset, segment_ids.shape[0])
    images, labels = view.read(idx[rows])
    # Per-example leaves are this host's rows; the group table is whole on every host.
    return {"x": images, "segment_ids": segment_ids[rows], "group_values": replicated(values),
            "factors": labels[:, None]}


def group_batch_sampler(factor, group_size: int, ragged: bool = False):
    """`sample_batch(dataset, key, batch_size)` for grouped training batches.

    G = batch_size // group_size groups per batch. With `ragged=False` every group has
    `group_size` members (batch_size must be a multiple); with `ragged=True` the B images are
    split into G non-empty groups of random sizes, redrawn every batch (mean size B/G).
    """
    group_size = int(group_size)

    def sample_batch(dataset, key, batch_size: int) -> dict:
        b = int(batch_size)
        g = b // group_size
        if g < 1:
            raise ValueError(f"batch_size {b} is smaller than group_size {group_size}")
        k_seg, k_img = jax.random.split(key)
        if ragged:
            seg = random_segment_ids(k_seg, b, g)
        else:
            if b % group_size:
                raise ValueError(f"batch_size {b} must be a multiple of group_size {group_size} (or use ragged groups)")
            seg = jnp.asarray(segment_ids_from_sizes([group_size] * g))
        return sample_groups(dataset, k_img, seg, g, factor)

    return sample_batch


def chunk_by_label(labels, k: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Host-side grouping of a fixed set: each label's examples, shuffled, cut into groups of `k`.

    The last group of a label may be smaller (ragged). Returns (segment_ids [N] aligned with
    `labels`, number of groups). Used by test-time strategy 2 (Bouchacourt et al. 2018, Sec. 4): k
    images of a class accumulate evidence on its content.
    """
    labels = np.asarray(labels)
    k = int(k)
    if k < 1:
        raise ValueError(f"group size k must be >= 1, got {k}")
    seg = np.empty(labels.shape[0], np.int32)
    next_id = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        chunks = np.arange(members.size) // k
        seg[members] = next_id + chunks
        next_id += int(chunks.max()) + 1
    return seg, next_id
