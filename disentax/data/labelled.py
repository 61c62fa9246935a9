"""Labelled subsets and wholly-supervised / wholly-unsupervised batches (Siddharth et al. 2017,
"Supervision rate").

The labelled set holds exactly `l` examples of every class of one factor, chosen once from a seed
(numpy, on the host) and kept as flat example indices; every labelled batch draws from it with
replacement. Each step flips one coin from the step's key: with probability r (the supervision
rate) the whole batch comes from the labelled set with its labels, otherwise from the whole
dataset with labels hidden (−1).

Datasets read on the host (`on_host`: TFDS MNIST/SVHN/..., whose labels are class ids, and the
TFDS factor grids) get the same draws from the same keys, made eagerly with numpy reads instead
of inside `jit`; the class labels of a TFDS image split come from `disentax.data.class_index`.

Continuous partially-supervised latents (`regression` columns of a factor grid) travel with the
labelled batches as standardised targets (`standardised_levels`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.base import GroundTruthDataset
from disentax.data.class_index import class_index, host_rows, is_label_images, label_column

__all__ = ["class_matched_pairs", "labelled_indices", "semi_supervised_sampler", "example_labels", "label_classes",
           "regression_columns", "standardised_levels"]


def label_classes(dataset, factor) -> tuple[int, int]:
    """(column, number of classes) of the label `factor` in `dataset`, TFDS label images included."""
    if is_label_images(dataset):
        column, num_classes, _ = label_column(dataset, factor)
        return column, num_classes
    column = dataset.factor_index(factor)
    return column, int(dataset.factor_sizes[column])


def regression_columns(dataset, factors, label_factor) -> tuple[int, ...]:
    """Columns of the continuous partially-supervised factors: a factor grid's ordered factors,
    none of them the label factor. Raises a one-line ValueError otherwise."""
    factors = tuple(factors)
    if not factors:
        return ()
    if is_label_images(dataset) or not hasattr(dataset, "factor_names") or not hasattr(dataset, "factor_sizes") \
            or not isinstance(dataset, GroundTruthDataset):
        raise ValueError(f"regression_factors need a dataset with a factor grid (e.g. dsprites); "
                         f"{getattr(dataset, 'name', type(dataset).__name__)} has only class labels")
    label = dataset.factor_index(label_factor)
    columns = []
    for f in factors:
        if isinstance(f, str) and f not in dataset.factor_names:
            raise ValueError(f"unknown regression factor {f!r}; allowed: {', '.join(dataset.factor_names)}")
        c = dataset.factor_index(f)
        if c == label:
            raise ValueError(f"regression factor {f!r} is the label factor; allowed: "
                             f"{', '.join(n for i, n in enumerate(dataset.factor_names) if i != label)}")
        if c in columns:
            raise ValueError(f"regression factor {f!r} is listed twice")
        if dataset.factor_sizes[c] < 2:
            raise ValueError(f"regression factor {f!r} has a single value; nothing to regress")
        columns.append(c)
    return tuple(columns)


def standardised_levels(factors, sizes):
    """Integer levels k of factors with `sizes` K -> (k − (K−1)/2) / sqrt((K²−1)/12), float32.

    That is the level minus its mean, over its standard deviation, under the uniform
    distribution on the K levels, which is each factor's marginal in a full factor grid
    (dSprites). Every dSprites factor's real value is affine in its level (scale, position,
    orientation are evenly spaced), and standardising is affine-invariant, so this equals
    standardising the real values: targets have mean 0 and variance 1 over the dataset, the
    moments of the N(0, 1) prior on the regressed latents. Works on numpy and jax arrays (inside
    jit too) with bitwise-equal results: the values come from a float64-computed table.
    """
    columns = []
    for j, k in enumerate(sizes):
        k = int(k)
        table = ((np.arange(k, dtype=np.float64) - (k - 1) / 2) / np.sqrt((k * k - 1) / 12)).astype(np.float32)
        level = factors[..., j]
        columns.append(jnp.asarray(table)[level] if isinstance(factors, jax.Array) else table[np.asarray(level)])
    if isinstance(factors, jax.Array):
        return jnp.stack(columns, -1) if columns else jnp.zeros(factors.shape[:-1] + (0,), jnp.float32)
    return np.stack(columns, -1) if columns else np.zeros(np.shape(factors)[:-1] + (0,), np.float32)


def labelled_indices(dataset, factor, per_class: int, seed: int) -> np.ndarray:
    """Exactly `per_class` distinct examples of each value of `factor`, fixed by `seed`.

    Returns flat example indices [num_values · per_class], class-major (all of class 0 first).
    For a ground-truth grid the other factors of each pick are uniform without replacement.
    """
    per_class = int(per_class)
    if is_label_images(dataset):  # a TFDS split: its labels, scanned once
        dataset, factor = class_index(dataset, factor), 0
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


def semi_supervised_sampler(factor, labelled: np.ndarray, rate: float, regression: tuple = ()):
    """`sample_batch(dataset, key, batch_size)` -> {"x", "labels", "supervised"} (+ "targets").

    `supervised` is a bool scalar, True with probability `rate`; labelled batches draw from
    the `labelled` indices with replacement, unlabelled ones uniformly from the dataset and carry
    labels −1. On device only the chosen branch renders (lax.cond), and shapes never change, so a
    jitted step that reads the flag compiles once. Datasets read on the host get the same draws
    (same keys, same indices), made eagerly.

    `regression`: columns of a factor grid whose standardised levels (`standardised_levels`) a
    labelled batch carries as "targets" [B, R] (zeros, never read, on unlabelled batches). With
    none, the batch has no "targets" key and every number is what it was without the option.
    """
    rate = float(rate)
    labelled = np.asarray(labelled, np.int64)
    if labelled.size == 0 and rate > 0:
        raise ValueError("supervision rate > 0 needs a non-empty labelled set (labels_per_class >= 1)")
    lab = jnp.asarray(labelled.astype(np.int32)) if labelled.size else jnp.zeros((1,), jnp.int32)
    regression = tuple(int(c) for c in regression)

    def targets_of(dataset, idx):
        factors = dataset.index_to_factors(idx)
        sizes = [dataset.factor_sizes[c] for c in regression]
        return standardised_levels(factors[:, list(regression)], sizes)

    def sample_batch(dataset, key, batch_size: int) -> dict:
        if getattr(dataset, "on_host", False):
            return _host_batch(dataset, key, int(batch_size))
        b = int(batch_size)
        k_flag, k_lab, k_unl = jax.random.split(key, 3)
        supervised = jax.random.uniform(k_flag) < rate

        if not regression:
            def with_labels(_):
                idx = lab[jax.random.randint(k_lab, (b,), 0, lab.shape[0])]
                return dataset.images_from_indices(idx), example_labels(dataset, idx, factor)

            def without_labels(_):
                images, _factors = dataset.sample(k_unl, b)
                return images, jnp.full((b,), -1, jnp.int32)

            x, labels = jax.lax.cond(supervised, with_labels, without_labels, None)
            return {"x": x, "labels": labels, "supervised": supervised}

        def with_targets(_):
            idx = lab[jax.random.randint(k_lab, (b,), 0, lab.shape[0])]
            return dataset.images_from_indices(idx), example_labels(dataset, idx, factor), targets_of(dataset, idx)

        def without_targets(_):
            images, _factors = dataset.sample(k_unl, b)
            return images, jnp.full((b,), -1, jnp.int32), jnp.zeros((b, len(regression)), jnp.float32)

        x, labels, targets = jax.lax.cond(supervised, with_targets, without_targets, None)
        return {"x": x, "labels": labels, "supervised": supervised, "targets": targets}

    def _host_batch(dataset, key, b: int) -> dict:
        # The device branch's draws, eagerly: flag, then either labelled indices or dataset.sample.
        k_flag, k_lab, k_unl = jax.random.split(key, 3)
        supervised = bool(jax.random.uniform(k_flag) < rate)
        rows = host_rows(dataset, b)
        n = rows.stop - rows.start
        if supervised:
            idx = np.asarray(labelled if labelled.size else np.zeros(1, np.int64))[
                np.asarray(jax.random.randint(k_lab, (b,), 0, lab.shape[0]))][rows]
            if is_label_images(dataset):
                x, labels = class_index(dataset, factor).read(idx)
            else:
                x = np.asarray(dataset.images_from_indices(idx))
                labels = np.asarray(dataset.index_to_factors(idx))[:, dataset.factor_index(factor)]
        else:
            x = np.asarray(dataset.sample(k_unl, b)[0])
            labels = np.full((n,), -1, np.int32)
        batch = {"x": x, "labels": np.asarray(labels, np.int32), "supervised": np.asarray(supervised)}
        if regression:
            batch["targets"] = (np.asarray(targets_of(dataset, idx), np.float32) if supervised
                                else np.zeros((n, len(regression)), np.float32))
        return batch

    return sample_batch


def class_matched_pairs(primary, secondary, labelled: np.ndarray, factor="label"):
    """`sample_batch(key, batch_size)` -> {"x", "y", "labels"}: pairs of two domains of one class.

    The pairs of the cross-domain KL of Karimi et al. (2018), Eq. 2, which does not say how they
    are formed: here x_i is drawn uniformly (with replacement) from the `labelled` examples of
    `primary` (its only training data: the scarce labelled set), labels_i is its class, and y_i is
    drawn uniformly among the examples of `secondary` of that class
    (`secondary.indices_with_labels`, a class-indexed table gathered under jit). Secondary
    batches so follow the primary set's class balance.

    Both datasets must sample on device (`disentax.data.digits.Digits` and its restyled copy);
    a host-read dataset (TFDS) is refused with a one-line ValueError.
    """
    for ds in (primary, secondary):
        if getattr(ds, "on_host", False) or not hasattr(ds, "indices_with_labels"):
            raise ValueError(f"class-matched pairs need datasets sampled on device with a class index; "
                             f"{getattr(ds, 'name', type(ds).__name__)} is not one")
    labelled = np.asarray(labelled, np.int64)
    if labelled.size == 0:
        raise ValueError("class-matched pairs need a non-empty labelled set of the primary domain")
    lab = jnp.asarray(labelled.astype(np.int32))

    def sample_batch(key, batch_size: int) -> dict:
        k_x, k_y = jax.random.split(key)
        idx = lab[jax.random.randint(k_x, (int(batch_size),), 0, lab.shape[0])]
        labels = example_labels(primary, idx, factor)
        y = secondary.images_from_indices(secondary.indices_with_labels(k_y, labels))
        return {"x": primary.images_from_indices(idx), "y": y, "labels": labels}

    return sample_batch
