"""The 8x8 handwritten digits that ship inside scikit-learn, held in memory, sampled on device.

`sklearn.datasets.load_digits` holds 1,797 real 8x8 grey images (values 0..16, from the UCI
"Optical Recognition of Handwritten Digits" set) with labels 0..9. It needs no download, which
makes it the small real dataset for the weak-supervision methods (the class-conditional model of
Siddharth et al. 2017, the grouped-by-label ML-VAE of Bouchacourt et al. 2018) in tests and on a
laptop.

Images are scaled to [0, 1] (value / 16) as float32 [N, 8, 8, 1]. The train/test split is a
fixed, stratified permutation (seeded, independent of the run seed) so every run and every
evaluation sees the same held-out images.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Digits", "load_digits_arrays", "split_indices", "NUM_IMAGES", "NUM_CLASSES", "IMAGE_SHAPE"]

NUM_IMAGES = 1797
NUM_CLASSES = 10
IMAGE_SHAPE = (8, 8, 1)
SPLITS = ("train", "test", "all")
_SPLIT_SEED = 0


@functools.lru_cache(maxsize=1)
def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits: (images float32 [N, 8, 8, 1] in [0, 1], labels int32 [N])."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the digits dataset needs scikit-learn: pip install 'disentax[digits]'") from None
    bunch = load_digits()
    images = (np.asarray(bunch.images, np.float32) / 16.0)[..., None]
    labels = np.asarray(bunch.target, np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@functools.lru_cache(maxsize=4)
def split_indices(test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: per class, a seeded shuffle sends round(test_fraction·n_c) to test.

    Stratified so each class keeps its share in both halves; sorted so the order is canonical.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    _, labels = load_digits_arrays()
    rng = np.random.default_rng(_SPLIT_SEED)
    train, test = [], []
    for c in range(NUM_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * idx.size))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _stratified_subset(idx: np.ndarray, labels: np.ndarray, fraction: float) -> np.ndarray:
    """round(fraction · n_c) of each class's positions in `idx`, by a fixed shuffle; sorted."""
    rng = np.random.default_rng(_SPLIT_SEED + 1)
    out = []
    for c in range(NUM_CLASSES):
        members = rng.permutation(idx[labels[idx] == c])
        out.append(members[: max(1, int(round(fraction * members.size)))])
    return np.sort(np.concatenate(out))


class Digits:
    """One split of the scikit-learn digits, with the sampling interface of the ground-truth datasets.

    The only factor is the label (`factor_names=("label",)`, `factor_sizes=(10,)`);
    `sample(key, n)` returns `(images [n, 8, 8, 1], labels [n, 1])` drawn uniformly with
    replacement from the split, on device. The arrays live on device once; jitted samplers close
    over them as constants (≈ 0.4 MB).
    """

    name = "digits"
    factor_names = ("label",)
    factor_sizes = (NUM_CLASSES,)
    num_factors = 1
    image_shape = IMAGE_SHAPE

    def __init__(self, split: str = "train", test_fraction: float = 0.2, keep_fraction: float = 1.0):
        if split not in SPLITS:
            raise ValueError(f"unknown digits split {split!r}; allowed: {', '.join(SPLITS)}")
        if not 0.0 < keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
        images, labels = load_digits_arrays()
        if split == "all":
            idx = np.arange(NUM_IMAGES)
        else:
            idx = split_indices(float(test_fraction))[0 if split == "train" else 1]
        if keep_fraction < 1.0:
            idx = _stratified_subset(idx, labels, float(keep_fraction))
        self.split = split
        self.test_fraction = float(test_fraction)
        self.keep_fraction = float(keep_fraction)
        self.indices = idx  # positions in the full 1,797-image array
        self.np_images = images[idx]
        self.np_labels = labels[idx]
        self.images = jnp.asarray(self.np_images)
        self.labels = jnp.asarray(self.np_labels)
        # Per class, the positions of its examples padded to a rectangle, so a label can be
        # turned into a uniformly drawn example of that label under jit.
        counts = np.bincount(self.np_labels, minlength=NUM_CLASSES)
        table = np.zeros((NUM_CLASSES, max(int(counts.max()), 1)), np.int32)
        for c in range(NUM_CLASSES):
            members = np.flatnonzero(self.np_labels == c)
            table[c, : members.size] = members
        self.class_counts = jnp.asarray(counts, jnp.int32)
        self.class_table = jnp.asarray(table)

    def __repr__(self) -> str:
        return f"Digits(split={self.split!r}, n={self.num_examples})"

    @property
    def num_examples(self) -> int:
        return int(self.np_labels.shape[0])

    def factor_index(self, factor) -> int:
        if factor in (0, "label"):
            return 0
        raise ValueError(f"unknown factor {factor!r} for digits; expected 'label' or 0")

    def index_to_factors(self, index):
        """Example positions [...] -> labels [..., 1]."""
        if isinstance(index, jax.Array):
            return self.labels[index][..., None]
        return self.np_labels[np.asarray(index)][..., None]

    def images_from_indices(self, indices):
        """Images [..., 8, 8, 1] of the examples at `indices` (positions in this split)."""
        if isinstance(indices, jax.Array):
            return self.images[indices]
        return self.np_images[np.asarray(indices)]

    def sample_indices(self, key, n: int):
        return jax.random.randint(key, (int(n),), 0, self.num_examples, dtype=jnp.int32)

    def sample(self, key, n: int):
        """`(images [n, 8, 8, 1], labels [n, 1])`, uniform with replacement over the split."""
        idx = self.sample_indices(key, n)
        return self.images[idx], self.labels[idx][:, None]

    def indices_with_labels(self, key, labels):
        """For each label in `labels [...]`, the position of a uniformly drawn example of that label."""
        labels = jnp.asarray(labels, jnp.int32)
        u = jax.random.uniform(key, labels.shape)
        counts = self.class_counts[labels]
        col = jnp.minimum((u * counts).astype(jnp.int32), counts - 1)
        return self.class_table[labels, col]

    def sample_with_labels(self, key, labels):
        """`(images, labels [..., 1])` with each image drawn uniformly among those of its given label."""
        idx = self.indices_with_labels(key, labels)
        return self.images[idx], self.labels[idx][..., None]

    def sample_with_fixed(self, key, n: int, factor, value=None):
        """`n` images sharing one label (`value`, or drawn uniformly from `key` when None)."""
        self.factor_index(factor)
        k_value, k_draw = jax.random.split(key)
        if value is None:
            value = jax.random.randint(k_value, (), 0, NUM_CLASSES, dtype=jnp.int32)
        labels = jnp.full((int(n),), value, jnp.int32)
        return self.sample_with_labels(k_draw, labels)
