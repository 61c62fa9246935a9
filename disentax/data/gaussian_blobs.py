"""Gaussian blobs: the two-factor dataset of Burgess et al. (2018), Sec. 4.3 and Fig. 2 ("Gaussian
blobs presented in various locations on a black canvas"), rendered on device.

64x64x1 images in [0, 1]: exp(−‖p − c‖² / (2 s²)) around a centre c on a 32 x 32 grid evenly
spaced over pixels 8..55 in x and y, s = 3 pixels. The paper gives neither the grid nor the
width; these are chosen here (the positions of dSprites' grid, a blob a few pixels wide). Factors
("pos_x", "pos_y"), 1,024 images.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.base import GroundTruthDataset

__all__ = ["BLOB_WIDTH", "CENTRES", "GaussianBlobs", "render_blobs"]

IMAGE_SIZE = 64
GRID = 32
CENTRES = np.linspace(8.0, 55.0, GRID).astype(np.float32)  # pixel coordinates of the 32 centres
BLOB_WIDTH = 3.0  # standard deviation in pixels


@jax.jit
def render_blobs(factors):
    """Images [..., 64, 64, 1] from factors [..., 2] = (pos_x, pos_y) indices."""
    f = jnp.asarray(factors).astype(jnp.int32)
    cx, cy = jnp.asarray(CENTRES)[f[..., 0]], jnp.asarray(CENTRES)[f[..., 1]]
    pix = jnp.arange(IMAGE_SIZE, dtype=jnp.float32)
    gx = jnp.exp(-((pix - cx[..., None]) ** 2) / (2 * BLOB_WIDTH**2))  # [..., W]
    gy = jnp.exp(-((pix - cy[..., None]) ** 2) / (2 * BLOB_WIDTH**2))  # [..., H]
    return (gy[..., :, None] * gx[..., None, :])[..., None]  # row = y, column = x


class GaussianBlobs(GroundTruthDataset):
    """A Gaussian blob on black at one of 32 x 32 positions (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(name="gaussian_blobs", factor_names=("pos_x", "pos_y"), factor_sizes=(GRID, GRID),
                         image_shape=(IMAGE_SIZE, IMAGE_SIZE, 1))

    def __repr__(self) -> str:
        return "GaussianBlobs()"

    def render(self, factors: Any) -> jax.Array:
        self._check_factors(factors)
        return render_blobs(factors)
