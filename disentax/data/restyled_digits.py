"""The scikit-learn digits restyled: an offline stand-in for a colour, cluttered domain such as SVHN.

Karimi et al. (2018) take SVHN as the scarce primary domain and MNIST as the abundant secondary
one: the same content (digit values) in different styles. Offline there is neither, so the
secondary domain is `disentax.data.digits` as it is and the primary domain the same 1,797 digits
restyled, image by image:

- a stroke colour and a background colour (RGB, uniform), redrawn until their mean intensities
  differ by at least `MIN_CONTRAST` so every digit stays legible;
- inversion with probability 1/2 (the stroke mask 1 − a: the stroke gets the background colour);
- a background texture: a sinusoidal grating of random orientation, frequency, phase and
  amplitude (up to ±0.25) added to the background;
- pixel noise N(0, σ²) with σ ~ U(0, 0.08) per image; values clipped to [0, 1].

Image i of the full array is restyled from its own parameters, drawn once from `style_seed`
(numpy, on the host), so the train and test splits (those of `disentax.data.digits`) are fixed and
every run sees the same images. The style parameters are kept (`styles`) for analyses.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from disentax.data.digits import NUM_IMAGES, Digits, load_digits_arrays

__all__ = ["RestyledDigits", "restyle", "restyled_digits_arrays", "MIN_CONTRAST", "IMAGE_SHAPE"]

IMAGE_SHAPE = (8, 8, 3)
MIN_CONTRAST = 0.3  # minimum |mean(stroke colour) − mean(background colour)|
_MAX_TEXTURE, _MAX_NOISE = 0.25, 0.08


def _style_parameters(n: int, seed: int) -> dict:
    rng = np.random.default_rng(int(seed))
    stroke, background = rng.uniform(size=(n, 3)), rng.uniform(size=(n, 3))
    low = np.abs(stroke.mean(1) - background.mean(1)) < MIN_CONTRAST
    while low.any():  # rejection: redraw only the illegible pairs (deterministic given the seed)
        stroke[low], background[low] = rng.uniform(size=(low.sum(), 3)), rng.uniform(size=(low.sum(), 3))
        low = np.abs(stroke.mean(1) - background.mean(1)) < MIN_CONTRAST
    return {
        "stroke": stroke,
        "background": background,
        "inverted": rng.uniform(size=n) < 0.5,
        "texture_angle": rng.uniform(0, np.pi, size=n),
        "texture_cycles": rng.uniform(0.5, 2.0, size=n),  # periods across the 8-pixel image
        "texture_phase": rng.uniform(0, 2 * np.pi, size=n),
        "texture_amplitude": rng.uniform(0, _MAX_TEXTURE, size=n),
        "noise_sd": rng.uniform(0, _MAX_NOISE, size=n),
        "noise_seed": rng.integers(0, 2**31 - 1, size=n),
    }


def restyle(images: np.ndarray, styles: dict) -> np.ndarray:
    """Grey images [N, H, W, 1] in [0, 1] -> colour images [N, H, W, 3] in [0, 1] with `styles`
    (per-image parameters as `_style_parameters` draws them; module docstring)."""
    images = np.asarray(images, np.float64)
    n, h, w, _ = images.shape
    a = np.where(styles["inverted"][:, None, None, None], 1.0 - images, images)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    angle = styles["texture_angle"][:, None, None]
    along = rows[None] * np.cos(angle) + cols[None] * np.sin(angle)
    wave = np.sin(2 * np.pi * styles["texture_cycles"][:, None, None] * along / h + styles["texture_phase"][:, None, None])
    background = styles["background"][:, None, None, :] + (styles["texture_amplitude"][:, None, None] * wave)[..., None]
    out = a * styles["stroke"][:, None, None, :] + (1.0 - a) * background
    noise = np.stack([np.random.default_rng(int(s)).normal(size=(h, w, 3)) for s in styles["noise_seed"]])
    out = out + styles["noise_sd"][:, None, None, None] * noise
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=2)
def restyled_digits_arrays(style_seed: int = 0) -> tuple[np.ndarray, dict]:
    """All 1,797 digits restyled: (images float32 [N, 8, 8, 3] in [0, 1], style parameters)."""
    images, _ = load_digits_arrays()
    styles = _style_parameters(NUM_IMAGES, style_seed)
    out = restyle(images, styles)
    out.setflags(write=False)
    return out, styles


class RestyledDigits(Digits):
    """One split of the restyled digits (module docstring): the `Digits` split of the same images,
    same labels and sampling interface, with colour images [8, 8, 3]."""

    name = "restyled_digits"
    image_shape = IMAGE_SHAPE

    def __init__(self, split: str = "train", test_fraction: float = 0.2, style_seed: int = 0):
        super().__init__(split, test_fraction)
        images, styles = restyled_digits_arrays(int(style_seed))
        self.style_seed = int(style_seed)
        self.styles = {k: v[self.indices] for k, v in styles.items()}
        self.np_images = images[self.indices]
        self.images = jnp.asarray(self.np_images)

    def __repr__(self) -> str:
        return f"RestyledDigits(split={self.split!r}, n={self.num_examples})"
