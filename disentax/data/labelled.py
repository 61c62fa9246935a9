"""Labelled subsets and wholly-supervised / wholly-unsupervised batches (seed 002, "Supervision rate").

The labelled set holds exactly `l` examples of every class of one factor, chosen once from a seed
(numpy, on the host) and kept as flat example indices; every labelled batch draws from it with
replacement. Each step flips one coin from the step's key: with probability r (the supervision
rate) the whole batch comes from the labelled set with its labels, otherwise from the whole
dataset with labels hidden (−1).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.base import GroundTruthDataset

__all__ = ["labelled_indices", "semi_supervised_sampler", "example_labels"]


def labelled_indices(dataset, factor, per_class: int, seed: int) -> np.ndarray:
    """Exactly `per_class` distinct examples of each value of `factor`, fixed by `seed`.

    Returns flat example indices [num_values · per_class], class-major (all of class 0 first).
    For a ground-truth grid the other factors of each pick are uniform without replacement.
    """
    per_class = int(per_class)
    column = dataset.factor_index(factor)
    num_values = dataset.factor_sizes[column]
    if per_class < 0:
        raise ValueError(f"labels per class must be >= 0, got {per_class}")
    rng = np.random.default_rng(int(seed))
    picks = []
    if isinstance(dataset, GroundTruthDataset):
        sizes = list(dataset.factor_sizes)
        others = sizes[:column] + sizes[column + 1:]
        n_others = int(np.prod(others)) if others else 1
        if per_class > n_others:
            raise ValueError(f"labels per class {per_class} exceeds the {n_others} examples of each {factor!r} value")
        for c in range(num_values):
            flat = rng.choice(n_others, size=per_class, replace=False)
            rest = np.stack(np.unravel_index(flat, others), -1) if others else np.zeros((per_class, 0), np.int64)
            factors = np.insert(rest, column, c, axis=1)
            picks.append(dataset.factors_to_index(factors))
    else:
        labels = np.asarray(dataset.index_to_factors(np.arange(dataset.num_examples)))[:, column]
        for c in range(num_values):
            members = np.flatnonzero(labels == c)
            if per_class > members.size:
                raise ValueError(f"labels per class {per_class} exceeds the {members.size} examples of class {c}")
            picks.append(np.sort(rng.choice(members, size=per_class, replace=False)))
    if not picks or per_class == 0:
        return np.zeros((0,), np.int64)
    return np.concatenate(picks).astype(np.int64)


def example_labels(dataset, indices, factor):
    """Value of `factor` for the examples at flat `indices` (jax in, jax out)."""
    return dataset.index_to_factors(indices)[..., dataset.factor_index(factor)].astype(jnp.int32)


def semi_supervised_sampler(factor, labelled: np.ndarray, rate: float):
    """`sample_batch(dataset, key, batch_size)` -> {"x", "labels", "supervised"}.

    `supervised` is a traced bool scalar, True with probability `rate`; labelled batches draw from
    the `labelled` indices with replacement, unlabelled ones uniformly from the dataset and carry
    labels −1. Only the chosen branch renders (lax.cond), and shapes never change, so a jitted step
    that reads the flag compiles once.
    """
    rate = float(rate)
    labelled = np.asarray(labelled, np.int64)
    if labelled.size == 0 and rate > 0:
        raise ValueError("supervision rate > 0 needs a non-empty labelled set (labels_per_class >= 1)")
    lab = jnp.asarray(labelled.astype(np.int32)) if labelled.size else jnp.zeros((1,), jnp.int32)

    def sample_batch(dataset, key, batch_size: int) -> dict:
        b = int(batch_size)
        k_flag, k_lab, k_unl = jax.random.split(key, 3)
        supervised = jax.random.uniform(k_flag) < rate

        def with_labels(_):
            idx = lab[jax.random.randint(k_lab, (b,), 0, lab.shape[0])]
            return dataset.images_from_indices(idx), example_labels(dataset, idx, factor)

        def without_labels(_):
            images, _factors = dataset.sample(k_unl, b)
            return images, jnp.full((b,), -1, jnp.int32)

        x, labels = jax.lax.cond(supervised, with_labels, without_labels, None)
        return {"x": x, "labels": labels, "supervised": supervised}

    return sample_batch
