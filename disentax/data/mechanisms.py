"""Digits under independent mechanisms, the data of Parascandolo et al. (2018).

Parascandolo, Rojas-Carulla, Kilbertus & Schölkopf (2018), "Learning independent causal
mechanisms", Sec. 4: MNIST digits transformed by one of 10 mechanisms, namely 8 translations by 4
pixels (up, down, left, right and the 4 diagonals), contrast inversion 1 - x, and additive
Gaussian noise of variance 0.25 clamped to [0, 1]. The training split is halved and only the first
half is transformed, so no transformed image has its canonical original in the canonical half;
experts learn to invert the mechanisms from unpaired canonical / transformed samples.

Offline substitute for MNIST: the scikit-learn digits of `disentax.data.digits` (8x8, scaled to
[0, 1] there, same train/test split). Each digit is upsampled 8x8 -> 20x20 (bilinear,
`jax.image.resize`) and zero-padded by 4 pixels on every side to 28x28, which is MNIST's geometry
(a 20x20 digit box centred in 28x28): a 4-pixel translation, diagonal ones included, keeps the whole
digit in the frame, as in the paper. Translations fill the vacated pixels with zeros (no
wrap-around); "up" moves the content to smaller row indices, "left" to smaller column indices.

`MechanismDigits(split)` shuffles the split's examples once with a fixed seed (independent of
the run seed) and halves them: the first half (`source`, floor(N/2) examples) is the one that gets
transformed, the second half is `canonical`. `sample(key, n)` draws from both halves on device.
`transformed_test_set` applies every mechanism to every image of a split, for the evaluation with
a digit classifier.
"""
from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data import digits

__all__ = [
    "MECHANISMS",
    "NUM_MECHANISMS",
    "SHIFT",
    "NOISE_STD",
    "IMAGE_SHAPE",
    "TRANSLATIONS",
    "MechanismDigits",
    "apply_mechanism",
    "noisy",
    "translate",
    "mechanism_digit_arrays",
    "transformed_test_set",
]

SHIFT = 4
NOISE_STD = 0.5  # variance 0.25
IMAGE_SHAPE = (28, 28, 1)
_DIGIT_BOX = 20
_PAD = (IMAGE_SHAPE[0] - _DIGIT_BOX) // 2
_HALVES_SEED = 0
# (row shift, column shift) of the content for each translation.
TRANSLATIONS = {
    "up": (-SHIFT, 0),
    "down": (SHIFT, 0),
    "left": (0, -SHIFT),
    "right": (0, SHIFT),
    "up_left": (-SHIFT, -SHIFT),
    "up_right": (-SHIFT, SHIFT),
    "down_left": (SHIFT, -SHIFT),
    "down_right": (SHIFT, SHIFT),
}
MECHANISMS = tuple(TRANSLATIONS) + ("invert", "noise")
NUM_MECHANISMS = len(MECHANISMS)


@functools.lru_cache(maxsize=1)
def mechanism_digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits at 28x28: (images float32 [N, 28, 28, 1] in [0, 1], labels int32 [N]).

    8x8 -> 20x20 bilinear, then 4 zero pixels on every side.
    """
    images, labels = digits.load_digits_arrays()
    up = jax.image.resize(jnp.asarray(images), (images.shape[0], _DIGIT_BOX, _DIGIT_BOX, 1), method="bilinear")
    up = np.clip(np.asarray(up, np.float32), 0.0, 1.0)
    out = np.pad(up, ((0, 0), (_PAD, _PAD), (_PAD, _PAD), (0, 0)))
    out.setflags(write=False)
    return out, labels


def translate(x, dr: int, dc: int):
    """Images [..., H, W, C] with the content moved by `dr` rows and `dc` columns, zero-filled:
    out[r, c] = x[r - dr, c - dc] where that lies in the image, else 0."""
    h, w = x.shape[-3], x.shape[-2]
    p = max(abs(dr), abs(dc))
    pad = [(0, 0)] * (x.ndim - 3) + [(p, p), (p, p), (0, 0)]
    padded = jnp.pad(x, pad)
    return padded[..., p - dr : p - dr + h, p - dc : p - dc + w, :]


def noisy(key, x, clamp: bool = True):
    """x + N(0, 0.25) noise per pixel, clamped to [0, 1] unless `clamp` is False."""
    y = x + NOISE_STD * jax.random.normal(key, jnp.shape(x), jnp.result_type(x, jnp.float32))
    return jnp.clip(y, 0.0, 1.0) if clamp else y


@jax.jit
def apply_mechanism(key, x, m):
    """Images x [B, H, W, C] in [0, 1] through mechanisms m [B] (indices into `MECHANISMS`).

    All 10 mechanisms are computed and each image's is selected, so `m` may be traced. `key` is
    used only by the noise mechanism (`noisy(key, x)` drawn for the whole batch, so an image's
    noise depends on the key and its row, not on the other images' mechanisms).
    """
    x = jnp.asarray(x, jnp.float32)
    m = jnp.asarray(m, jnp.int32)[:, None, None, None]
    out = noisy(key, x)
    # A chain of selects (fused by XLA) rather than a stack of all 10 batches.
    for j, y in enumerate(_deterministic(x)):
        out = jnp.where(m == j, y, out)
    return out


def _deterministic(x):
    """The 9 key-free mechanisms of x, in `MECHANISMS` order: 8 translations, inversion."""
    return [translate(x, dr, dc) for dr, dc in TRANSLATIONS.values()] + [1.0 - x]


def _split_indices(split: str, test_fraction: float) -> np.ndarray:
    if split not in digits.SPLITS:
        raise ValueError(f"unknown digits split {split!r}; allowed: {', '.join(digits.SPLITS)}")
    if split == "all":
        return np.arange(digits.NUM_IMAGES)
    return digits.split_indices(float(test_fraction))[0 if split == "train" else 1]


def _batch(n) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"batch_size must be a positive python int (static under jit), got {n!r}")
    return int(n)


class MechanismDigits:
    """One split of the 28x28 digits, halved into a canonical and a to-be-transformed part.

    `canonical` [N1, 28, 28, 1] and `source` [N2, 28, 28, 1] (N2 = floor(N/2), N1 = N - N2) with
    `canonical_labels`, `source_labels`, and their positions in the full 1,797-digit array,
    `canonical_indices`, `source_indices` (disjoint). Arrays live on device; `sample` is jit-able.
    """

    name = "mechanism_digits"
    image_shape = IMAGE_SHAPE
    num_mechanisms = NUM_MECHANISMS
    mechanisms = MECHANISMS
    on_host = False

    def __init__(self, split: str = "train", test_fraction: float = 0.2):
        idx = _split_indices(split, test_fraction)
        images, labels = mechanism_digit_arrays()
        order = np.random.default_rng(_HALVES_SEED).permutation(idx.size)
        half = idx.size // 2
        self.split = split
        self.test_fraction = float(test_fraction)
        self.source_indices = idx[order[:half]]
        self.canonical_indices = idx[order[half:]]
        self.canonical = jnp.asarray(images[self.canonical_indices])
        self.source = jnp.asarray(images[self.source_indices])
        self.canonical_labels = jnp.asarray(labels[self.canonical_indices])
        self.source_labels = jnp.asarray(labels[self.source_indices])

    def __repr__(self) -> str:
        return (f"MechanismDigits(split={self.split!r}, canonical={self.num_canonical}, "
                f"source={self.num_source}, mechanisms={NUM_MECHANISMS})")

    def canonical_arrays(self):
        """(images [N1, 28, 28, 1], labels [N1]) of the canonical half, on device: the untransformed
        digits a classifier for the evaluation may be trained on."""
        return self.canonical, self.canonical_labels

    @property
    def num_canonical(self) -> int:
        return int(self.canonical_indices.size)

    @property
    def num_source(self) -> int:
        return int(self.source_indices.size)

    @property
    def num_examples(self) -> int:
        """Images in the split, both halves."""
        return self.num_canonical + self.num_source

    def sample(self, key, batch_size: int) -> dict:
        """A batch of unpaired canonical and transformed digits, uniform with replacement.

        Returns {"canonical": [B, 28, 28, 1] from the canonical half, "canonical_label": [B],
        "transformed": [B, 28, 28, 1] = a uniform mechanism applied to "source" (drawn from the
        other half), "mechanism": [B] int32, "source": [B, 28, 28, 1], "label": [B] (the
        transformed digits' labels)}. `batch_size` must be static under jit.
        """
        b = _batch(batch_size)
        k_c, k_s, k_m, k_noise = jax.random.split(key, 4)
        ic = jax.random.randint(k_c, (b,), 0, self.num_canonical, dtype=jnp.int32)
        js = jax.random.randint(k_s, (b,), 0, self.num_source, dtype=jnp.int32)
        m = jax.random.randint(k_m, (b,), 0, NUM_MECHANISMS, dtype=jnp.int32)
        source = self.source[js]
        return {"canonical": self.canonical[ic], "canonical_label": self.canonical_labels[ic],
                "transformed": apply_mechanism(k_noise, source, m), "mechanism": m, "source": source,
                "label": self.source_labels[js]}


def transformed_test_set(key, split: str = "test", test_fraction: float = 0.2) -> dict:
    """Every image of `split` under every mechanism, mechanism-major: row m * N + i is image i
    under mechanism m. Returns {"x": [10 N, 28, 28, 1], "mechanism": [10 N] int32, "label": [10 N],
    "source": [10 N, 28, 28, 1] (the untransformed images)}; the noise is drawn from `key`."""
    idx = _split_indices(split, test_fraction)
    images, labels = mechanism_digit_arrays()
    n = idx.size
    x = jnp.asarray(images[idx])
    source = jnp.tile(x, (NUM_MECHANISMS, 1, 1, 1))
    m = jnp.repeat(jnp.arange(NUM_MECHANISMS, dtype=jnp.int32), n)
    # Mechanism-major, each mechanism applied once to the whole split (same maps as `apply_mechanism`).
    transformed = jnp.concatenate(_deterministic(x) + [noisy(key, x)])
    return {"x": transformed, "mechanism": m, "label": jnp.tile(jnp.asarray(labels[idx]), NUM_MECHANISMS),
            "source": source}
