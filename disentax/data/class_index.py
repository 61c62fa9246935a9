"""Class labels of host-read image datasets (TFDS MNIST, SVHN, CIFAR-10, CelebA attributes) for the
weak-supervision samplers.

The semi-supervised sampler needs, before training starts, the labels of every record (to pick
exactly l labelled examples per class) and the ML-VAE group sampler needs, per class, the list of
its records (to draw images of a given label). `disentax.data.tfds.TFDSImages` reads records on
the host and has neither, so `class_index(dataset, factor)` scans the labels once (image decoding
skipped where TFDS allows it), keeps them in memory for this process and, when the prepared data
folder is writable, in ``disentax_<name>_<split>_<factor>_labels.npy`` next to the records.

`ClassIndex` offers the small part of the ground-truth-dataset interface the samplers read:
`factor_names`, `factor_sizes`, `factor_index`, `index_to_factors`, `num_examples`, plus
`indices_with_labels(key, labels)` (the same draw as `Digits.indices_with_labels`) and `read`.
Everything here runs eagerly on the host: batches are made by `disentax.data.host_pipeline`.
"""
from __future__ import annotations

import os
import tempfile
import weakref
from pathlib import Path

import jax
import numpy as np

from disentax.data import tfds as dtfds

__all__ = ["ClassIndex", "class_index", "is_label_images", "label_column", "host_rows"]

_CHUNK = 8192
_MEMORY: dict = {}  # (name, split, data_dir, num_examples, column) -> labels, shared across instances
_VIEWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def is_label_images(dataset) -> bool:
    """True for a `TFDSImages` split (class ids or CelebA attributes, read on the host)."""
    return isinstance(dataset, dtfds.TFDSImages) and dataset.spec.labels in ("label", "attributes")


def label_column(dataset, factor) -> tuple[int, int, str]:
    """(column of the label array, number of classes, canonical name) of `factor` in a `TFDSImages`.

    Class-label datasets have one factor, ``"label"`` (or 0); CelebA's factors are its 40
    attributes by name (or index), each with 2 classes.
    """
    spec = dataset.spec
    if spec.labels == "label":
        if factor in ("label", 0):
            return 0, int(spec.num_classes), "label"
        raise ValueError(f"unknown factor {factor!r} for {dataset.name}; allowed: label")
    if spec.labels == "attributes":
        names = dtfds.CELEB_A_ATTRIBUTES
        if isinstance(factor, str) and factor in names:
            return names.index(factor), 2, factor
        if isinstance(factor, (int, np.integer)) and not isinstance(factor, bool) and 0 <= factor < 40:
            return int(factor), 2, names[int(factor)]
        raise ValueError(f"unknown factor {factor!r} for {dataset.name}; allowed: one of its 40 attribute names")
    raise ValueError(f"{dataset.name} has no class labels (its labels are {spec.labels!r})")


def host_rows(dataset, n: int) -> slice:
    """This host's rows of a global batch of `n` (all of them on one process), as `TFDSImages` does."""
    count = int(getattr(dataset, "process_count", 1))
    index = int(getattr(dataset, "process_index", 0))
    if n % count:
        raise ValueError(f"batch size {n} must be divisible by the number of hosts {count}")
    per = n // count
    return slice(index * per, (index + 1) * per)


def _column(labels: np.ndarray, column: int) -> np.ndarray:
    return labels if labels.ndim == 1 else labels[:, column]


def _scan(dataset, column: int) -> np.ndarray:
    """Labels of every record, in record order: int32 [num_examples]."""
    sources = []
    try:  # skip image decoding while scanning when TFDS can (it cannot under mock data)
        tfds = dtfds._tfds()
        skip = {"image": tfds.decode.SkipDecoding()}
        sources.append(dtfds.open_source(dataset.name, dataset.split, dataset.data_dir, decoders=skip))
    except Exception:
        pass
    sources.append(dataset.source)
    n = dataset.num_examples
    for k, source in enumerate(sources):
        out = np.empty(n, np.int32)
        try:
            for start in range(0, n, _CHUNK):
                stop = min(start + _CHUNK, n)
                examples = dtfds._read(source, np.arange(start, stop))
                out[start:stop] = _column(dtfds._labels(examples, dataset.spec), column)
            return out
        except Exception:
            if k == len(sources) - 1:
                raise
    raise AssertionError("unreachable")


def _cache_path(dataset, factor_name: str) -> Path | None:
    info = getattr(dataset.source, "dataset_info", None)
    folder = getattr(info, "data_dir", None)
    if folder is None or not Path(str(folder)).is_dir():
        return None
    return Path(str(folder)) / f"disentax_{dataset.name}_{dataset.split}_{factor_name}_labels.npy"


def _all_labels(dataset, column: int, factor_name: str, num_classes: int) -> np.ndarray:
    key = (dataset.name, dataset.split, str(dataset.data_dir), dataset.num_examples, column)
    if key in _MEMORY:
        return _MEMORY[key]
    path = _cache_path(dataset, factor_name)
    labels = None
    if path is not None and path.exists():
        try:
            labels = np.load(path)
        except (OSError, ValueError):
            labels = None
        if labels is not None and (labels.shape != (dataset.num_examples,) or labels.min() < 0
                                   or labels.max() >= num_classes):
            labels = None
    if labels is None:
        labels = _scan(dataset, column)
        if path is not None:
            try:  # atomically, so a concurrent reader never sees half a file
                fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
                with os.fdopen(fd, "wb") as f:
                    np.save(f, labels)
                os.replace(tmp, path)
            except OSError:
                pass
    labels = labels.astype(np.int32)
    labels.setflags(write=False)
    _MEMORY[key] = labels
    return labels


class ClassIndex:
    """The labels of one factor of a host-read image dataset, with per-class record tables.

    `labels[i]` is the class of record i; `class_table[c, :class_counts[c]]` are the records of
    class c (ascending). Record indices are positions in the TFDS split.
    """

    on_host = True

    def __init__(self, dataset, factor="label"):
        column, num_classes, name = label_column(dataset, factor)
        self.dataset, self.column = dataset, column
        self.name = dataset.name
        self.factor_names = (name,)
        self.factor_sizes = (num_classes,)
        self.num_factors = 1
        self.image_shape = dataset.image_shape
        self.labels = _all_labels(dataset, column, name, num_classes)
        counts = np.bincount(self.labels, minlength=num_classes)
        table = np.zeros((num_classes, max(int(counts.max()), 1)), np.int64)
        for c in range(num_classes):
            members = np.flatnonzero(self.labels == c)
            table[c, : members.size] = members
        self.class_counts, self.class_table = counts, table

    def __repr__(self) -> str:
        return f"ClassIndex({self.dataset!r}, factor={self.factor_names[0]!r})"

    @property
    def num_examples(self) -> int:
        return int(self.labels.shape[0])

    def factor_index(self, factor) -> int:
        if factor in (0, self.factor_names[0]) or (factor == self.column and not isinstance(factor, bool)):
            return 0
        raise ValueError(f"unknown factor {factor!r} for {self.name}; allowed: {self.factor_names[0]}")

    def index_to_factors(self, index) -> np.ndarray:
        """Record indices [...] -> labels [..., 1] (host numpy)."""
        return self.labels[np.asarray(index)][..., None]

    def read(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels int32 [n]) of the records at `indices`, labels of this factor."""
        images, labels = self.dataset.read(indices)
        return images, _column(np.asarray(labels), self.column).astype(np.int32)

    def indices_with_labels(self, key, labels) -> np.ndarray:
        """For each label of `labels [...]`, a record drawn uniformly among those of that label.

        Uses the step key exactly as `Digits.indices_with_labels` does (one uniform per slot).
        """
        labels = np.asarray(labels, np.int64)
        if labels.size and self.class_counts[labels].min() == 0:
            empty = sorted(set(labels[self.class_counts[labels] == 0].tolist()))
            raise ValueError(f"{self.name} has no record of class {empty[0]} of {self.factor_names[0]!r}")
        u = np.asarray(jax.random.uniform(key, labels.shape))
        counts = self.class_counts[labels]
        col = np.minimum((u * counts).astype(np.int64), counts - 1)
        return self.class_table[labels, col]


def class_index(dataset, factor="label") -> ClassIndex:
    """The (memoised per dataset object and factor) `ClassIndex` of a `TFDSImages`."""
    views = _VIEWS.setdefault(dataset, {})
    column = label_column(dataset, factor)[0]
    if column not in views:
        views[column] = ClassIndex(dataset, factor)
    return views[column]
