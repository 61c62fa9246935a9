"""Procedural dSprites: the dSprites factor grid rendered on device.

dSprites (Matthey, Higgins, Hassabis & Lerchner, 2017) is a set of 64x64
binary images of a white 2D sprite on black, generated from five independent
factors (colour is constant and therefore omitted here):

=============  ======  =========================================
factor         values  meaning
=============  ======  =========================================
shape          3       square, ellipse, heart
scale          6       ``linspace(0.5, 1, 6)``
orientation    40      ``2*pi*k/40`` radians, k = 0..39
pos_x          32      ``linspace(0, 1, 32)``
pos_y          32      ``linspace(0, 1, 32)``
=============  ======  =========================================

Instead of loading the released array, :func:`render` draws each sprite
analytically: for every pixel centre it applies the inverse of the sprite's
placement (translate, rotate, scale) and tests membership in a canonical
shape. The result follows the same factor grid and index order as the
original, but it is a re-implementation, not a pixel-exact copy.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.base import GroundTruthDataset

__all__ = [
    "BASE_SIZE",
    "DSprites",
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "IMAGE_SHAPE",
    "MARGIN",
    "NUM_EXAMPLES",
    "ORIENTATION_VALUES",
    "POSITION_VALUES",
    "SCALE_VALUES",
    "SHAPES",
    "factor_values",
    "render",
]

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
NUM_EXAMPLES = 737280
IMAGE_SHAPE = (64, 64, 1)
SHAPES = ("square", "ellipse", "heart")

SCALE_VALUES = np.linspace(0.5, 1.0, FACTOR_SIZES[1], dtype=np.float32)
ORIENTATION_VALUES = (2.0 * np.pi * np.arange(FACTOR_SIZES[2]) / FACTOR_SIZES[2]).astype(
    np.float32
)
POSITION_VALUES = np.linspace(0.0, 1.0, FACTOR_SIZES[3], dtype=np.float32)

# Half side length, in pixels, of the square at scale 1 (so a 16 px square,
# a quarter of the canvas, like the original's largest sprites). All canonical
# shapes below fit in a disc of radius sqrt(2) (the square's corner), so any
# sprite reaches at most BASE_SIZE * sqrt(2) ~= 11.3 px from its centre.
BASE_SIZE = 8.0
# Sprite centres range over [MARGIN, 64 - MARGIN] = [13, 51] px. The nearest
# pixel centre of the outermost row/column is then 12.5 px away, more than the
# 11.3 px reach, so even a rotated scale-1 sprite at pos 0 or 1 never touches
# the border, while sprites still sweep ~60% of the image.
MARGIN = 13.0

# Ellipse semi-axes in units of BASE_SIZE: elongated 2:1 like the original's
# ellipse, and the major semi-axis stays inside the sqrt(2) disc.
_ELLIPSE_AXES = (1.4, 0.7)
# The implicit heart (x^2 + y^2 - 1)^3 <= x^2 y^3 spans x in [-1.14, 1.14],
# y in [-1, 1.24]; its area centroid sits at y ~= 0.29. Rotating about the
# centroid keeps the sprite from wobbling with orientation, and from there the
# farthest point is 1.29 away, i.e. inside the sqrt(2) disc after * 1.05.
_HEART_CENTROID_Y = 0.2935
_HEART_SIZE = 1.05

@jax.jit
def factor_values(factors: Any) -> jax.Array:
    """Map integer dSprites factors ``[..., 5]`` to real values ``[..., 5]``.

    Columns of the float32 result, following the grid of Matthey et al. 2017:

    * 0: shape index as a float (categorical: 0 square, 1 ellipse, 2 heart),
    * 1: scale ``0.5 + 0.5 * k / 5`` in ``[0.5, 1]``,
    * 2: orientation ``2 * pi * k / 40`` radians in ``[0, 2 pi)``,
    * 3: pos_x ``k / 31`` in ``[0, 1]``,
    * 4: pos_y ``k / 31`` in ``[0, 1]``.
    """
    f = jnp.asarray(factors).astype(jnp.int32)
    # Table lookups (not arithmetic) so the grid ends are exactly 0.5/1 and 0/1.
    return jnp.stack(
        [
            f[..., 0].astype(jnp.float32),
            jnp.asarray(SCALE_VALUES)[f[..., 1]],
            jnp.asarray(ORIENTATION_VALUES)[f[..., 2]],
            jnp.asarray(POSITION_VALUES)[f[..., 3]],
            jnp.asarray(POSITION_VALUES)[f[..., 4]],
        ],
        axis=-1,
    )


def _shape_masks(u: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Membership of canonical coordinates (u right, v up) in the three shapes."""
    square = (jnp.abs(u) <= 1.0) & (jnp.abs(v) <= 1.0)
    a, b = _ELLIPSE_AXES
    ellipse = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    x = u / _HEART_SIZE
    y = v / _HEART_SIZE + _HEART_CENTROID_Y
    r = x * x + y * y - 1.0
    # With v pointing up the lobes are on top and the tip at the bottom, so
    # the heart points down on screen at orientation 0.
    heart = r * r * r - x * x * y * y * y <= 0.0
    return square, ellipse, heart


@jax.jit
def render(factors: Any) -> jax.Array:
    """Render dSprites images from integer factors ``[..., 5]`` -> ``[..., 64, 64, 1]``.

    For each pixel centre ``p = (col + 0.5, row + 0.5)`` and sprite centre
    ``c = MARGIN + pos * (64 - 2 * MARGIN)``, the offset ``p - c`` (with the
    image y axis flipped to point up) is rotated by ``-angle`` and divided by
    ``scale * BASE_SIZE``; the pixel is lit (1.0) iff the result lies in the
    canonical shape: square ``|u|, |v| <= 1``, ellipse ``(u/1.4)^2 + (v/0.7)^2
    <= 1`` or heart ``(x^2 + y^2 - 1)^3 - x^2 y^3 <= 0``. A positive angle
    turns the sprite counter-clockwise on screen.

    All three shape tests are evaluated and one is selected per example, so
    there is no data-dependent control flow; leading dimensions are handled
    by broadcasting (equivalent to vmapping over them). Pure and jitted
    (one compilation per input shape; it also nests inside other ``jit``s);
    out-of-range factors are not checked here (use :class:`DSprites`).
    """
    values = factor_values(factors)
    # [..., 1, 1] so each example broadcasts against the 64x64 pixel grid.
    shape_id, scale, angle, pos_x, pos_y = (values[..., k, None, None] for k in range(5))
    height, width, _ = IMAGE_SHAPE
    rows = jnp.arange(height, dtype=jnp.float32)[:, None] + 0.5
    cols = jnp.arange(width, dtype=jnp.float32)[None, :] + 0.5
    cx = MARGIN + pos_x * (width - 2.0 * MARGIN)
    cy = MARGIN + pos_y * (height - 2.0 * MARGIN)
    dx = cols - cx
    dy = cy - rows  # flip so that "up" is positive, the usual sense of rotation
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    size = scale * BASE_SIZE
    u = (cos * dx + sin * dy) / size
    v = (-sin * dx + cos * dy) / size
    square, ellipse, heart = _shape_masks(u, v)
    inside = jnp.where(shape_id == 0.0, square, jnp.where(shape_id == 1.0, ellipse, heart))
    return inside.astype(jnp.float32)[..., None]


class DSprites(GroundTruthDataset):
    """Procedural dSprites (Matthey et al. 2017): 737,280 binary 64x64x1 images.

    Factors ``("shape", "scale", "orientation", "pos_x", "pos_y")`` with sizes
    ``(3, 6, 40, 32, 32)``, flat index order as in the original array (pos_y
    fastest). Images are generated on device by :func:`render`, so nothing is
    downloaded::

        ds = DSprites()
        images, factors = jax.jit(lambda k: ds.sample(k, 64))(key)

    All instances are equal and share a hash.
    """

    def __init__(self) -> None:
        super().__init__(
            name="dsprites",
            factor_names=FACTOR_NAMES,
            factor_sizes=FACTOR_SIZES,
            image_shape=IMAGE_SHAPE,
        )

    def __repr__(self) -> str:
        return "DSprites()"

    def factor_values(self, factors: Any) -> jax.Array:
        """Real-valued factors ``[..., 5]``, see module-level :func:`factor_values`."""
        self._check_factors(factors)
        return factor_values(factors)

    def render(self, factors: Any) -> jax.Array:
        """Images ``[..., 64, 64, 1]`` from factors ``[..., 5]``, see :func:`render`.

        Concrete (numpy / python) factors are range-checked first.
        """
        self._check_factors(factors)
        return render(factors)

