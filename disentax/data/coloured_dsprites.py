"""Coloured dSprites-like scenes: local colour information, global shape and position.

The embedded default data of the auxiliary-task VAE (Anonymous 2019, "Explicit information placement
on latent variables using auxiliary generative modelling task"). A sprite of one of six bright
colours sits on a background of one of five dark colours. Shuffling small patches keeps the
colours (local information: nearby pixels share a colour) and destroys shape, scale and position
(global information: how far-apart pixels relate). Both kinds of factor are known, so the swap
test of Anonymous (2019), Fig. 3, can use them directly instead of a trained SVHN classifier.

Factors (sizes): shape (3), scale (3), pos_x (8), pos_y (8), fg_colour (6), bg_colour (5),
17,280 combinations. Sprites are drawn with `disentax.data.dsprites.render` at 64x64
(orientation 0; scales 0.6, 0.8, 1.0; positions at 8 evenly spaced dSprites grid points) and
2x2 average-pooled to 32x32x3, the size of SVHN and CIFAR10, so edge pixels blend the two colours.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data import dsprites
from disentax.data.base import GroundTruthDataset

__all__ = ["ColouredDSprites", "FG_COLOURS", "BG_COLOURS", "FACTOR_NAMES", "FACTOR_SIZES", "render_coloured"]

FACTOR_NAMES = ("shape", "scale", "pos_x", "pos_y", "fg_colour", "bg_colour")
FG_COLOURS = np.array(
    [[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.3, 0.45, 1.0], [1.0, 1.0, 0.2], [1.0, 0.3, 1.0], [0.2, 1.0, 1.0]],
    np.float32,
)
BG_COLOURS = np.array(
    [[0.05, 0.05, 0.05], [0.4, 0.15, 0.05], [0.05, 0.2, 0.4], [0.3, 0.05, 0.3], [0.1, 0.3, 0.1]], np.float32
)
# Indices into the dSprites grid for the scale (of 6) and position (of 32) factors.
SCALE_INDEX = np.array([1, 3, 5], np.int32)
POSITION_INDEX = np.round(np.linspace(0, 31, 8)).astype(np.int32)
FACTOR_SIZES = (3, len(SCALE_INDEX), len(POSITION_INDEX), len(POSITION_INDEX), len(FG_COLOURS), len(BG_COLOURS))
IMAGE_SHAPE = (32, 32, 3)
NUM_EXAMPLES = int(np.prod(FACTOR_SIZES))


def to_dsprites_factors(factors):
    """Coloured factors [..., 6] -> dSprites factors [..., 5] (shape, scale, orientation 0, x, y)."""
    f = jnp.asarray(factors).astype(jnp.int32)
    return jnp.stack(
        [
            f[..., 0],
            jnp.asarray(SCALE_INDEX)[f[..., 1]],
            jnp.zeros_like(f[..., 0]),
            jnp.asarray(POSITION_INDEX)[f[..., 2]],
            jnp.asarray(POSITION_INDEX)[f[..., 3]],
        ],
        axis=-1,
    )


@jax.jit
def sprite_coverage(factors):
    """Fraction of each 32x32 pixel covered by the sprite, [..., 32, 32, 1] in [0, 1]."""
    mask = dsprites.render(to_dsprites_factors(factors))  # [..., 64, 64, 1]
    lead = mask.shape[:-3]
    return mask.reshape(*lead, 32, 2, 32, 2, 1).mean(axis=(-4, -2))


@jax.jit
def render_coloured(factors):
    """Images [..., 32, 32, 3]: bg * (1 - coverage) + fg * coverage, colours from the palettes."""
    f = jnp.asarray(factors).astype(jnp.int32)
    cover = sprite_coverage(f)
    fg = jnp.asarray(FG_COLOURS)[f[..., 4]][..., None, None, :]
    bg = jnp.asarray(BG_COLOURS)[f[..., 5]][..., None, None, :]
    return bg * (1.0 - cover) + fg * cover


class ColouredDSprites(GroundTruthDataset):
    """Coloured single-sprite scenes with known factors, 32x32x3, generated on device."""

    def __init__(self) -> None:
        super().__init__(
            name="coloured_dsprites", factor_names=FACTOR_NAMES, factor_sizes=FACTOR_SIZES, image_shape=IMAGE_SHAPE
        )

    def __repr__(self) -> str:
        return "ColouredDSprites()"

    def render(self, factors: Any) -> jax.Array:
        """Images [..., 32, 32, 3] from factors [..., 6], see `render_coloured`."""
        self._check_factors(factors)
        return render_coloured(factors)


# Which factors a patch shuffle keeps (local) and destroys (global), for the swap test.
LOCAL_FACTORS = ("fg_colour", "bg_colour")
GLOBAL_FACTORS = ("shape", "scale", "pos_x", "pos_y")
