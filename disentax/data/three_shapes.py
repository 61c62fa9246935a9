"""Three binarised shapes on a 64x64 canvas: the synthetic dataset of Peychev, Veličković & Liò
(2018), Sec. 3.1.1, rendered on device.

=============  ======  ==========================================================
factor         values  meaning
=============  ======  ==========================================================
shape          3       square, ellipse, triangle (equilateral)
pos_x          16      sprite centre, 16 columns evenly over pixels 13..51
pos_y          16      sprite centre, 16 rows evenly over pixels 13..51
scale          6       ``linspace(0.5, 1, 6)`` of the dSprites sizes
orientation    60      ``linspace(0, π, 60)``: both ends included ("60 values over [0, π]")
=============  ======  ==========================================================

The paper gives the factors and their counts, not the sizes, positions or shape proportions; these
follow the library's dSprites (`disentax.data.dsprites`: the square's half side is 8 px at scale 1,
the ellipse is 2:1, sprite centres stay 13 px from the border) and the triangle is equilateral
about its centroid with its vertices on the square's corner circle. Both ends of [0, π] are kept
because "over the [0, π] range" reads as closed, and it agrees with the paper's count: the square
and the ellipse look the same at 0 and π, which alone removes 2 · 1,536 of the paper's 9,459
duplicates, and nearby angles of small sprites rasterise to the same pixels.

Duplicates (the paper: "removing duplicate images incidentally caused by some idempotent
transformations") are found by rendering the whole 276,480-image grid once and keeping the first
grid index of every distinct image (`unique_indices`, about 2 s on a CPU, once per process). The 70:15:15 split is stratified by shape, a fixed permutation (seed 0, independent
of the run's seed) within each shape (`split_indices`). ``ThreeShapes(split)`` draws its training
batches (`sample_factors`) from its split's distinct images; the factor-fixing draws of the
metrics (`sample_factors_with_fixed`) and `num_examples` stay those of the full grid, so a metric
that changes one factor can reach any value of it.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.base import GroundTruthDataset

__all__ = [
    "FACTOR_NAMES", "FACTOR_SIZES", "GRID_SIZE", "ORIENTATION_VALUES", "SHAPES", "SPLITS", "SPLIT_FRACTIONS",
    "ThreeShapes", "render_shapes", "split_indices", "unique_indices",
]

FACTOR_NAMES = ("shape", "pos_x", "pos_y", "scale", "orientation")
FACTOR_SIZES = (3, 16, 16, 6, 60)
GRID_SIZE = int(np.prod(FACTOR_SIZES))  # 276,480
SHAPES = ("square", "ellipse", "triangle")
IMAGE_SHAPE = (64, 64, 1)
SPLITS = ("train", "validation", "test", "all")
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
_SPLIT_SEED = 0

BASE_SIZE = 8.0
MARGIN = 13.0
POSITION_VALUES = np.linspace(MARGIN, 64.0 - MARGIN, FACTOR_SIZES[1], dtype=np.float32)
SCALE_VALUES = np.linspace(0.5, 1.0, FACTOR_SIZES[3], dtype=np.float32)
ORIENTATION_VALUES = np.linspace(0.0, np.pi, FACTOR_SIZES[4], dtype=np.float32)
_ELLIPSE_AXES = (1.4, 0.7)
# Equilateral triangle about its centroid, circumradius sqrt(2) (the square's corners): inside iff
# the point is on the inner side of all three edges, each at distance R/2 from the centroid.
_TRIANGLE_INRADIUS = float(np.sqrt(2.0) / 2.0)
_EDGE_NORMALS = np.stack([[np.cos(a), np.sin(a)] for a in (-np.pi / 2, np.pi / 6, 5 * np.pi / 6)]).astype(np.float32)


@jax.jit
def render_shapes(factors: Any) -> jax.Array:
    """Binary images ``[..., 64, 64, 1]`` from integer factors ``[..., 5]`` (the module's order).

    Each pixel centre p = (col + ½, row + ½), taken relative to the sprite centre (y pointing up),
    is rotated by −angle and divided by scale · 8 px; it is lit iff the result lies in the canonical
    shape: the square |u|, |v| ≤ 1, the ellipse (u/1.4)² + (v/0.7)² ≤ 1, or the triangle n_k · (u, v)
    ≤ √2/2 for its three outward edge normals n_k (a vertex pointing up at angle 0).
    """
    f = jnp.asarray(factors).astype(jnp.int32)
    pos = jnp.asarray(POSITION_VALUES)
    shape_id = f[..., 0, None, None]
    cx, cy = pos[f[..., 1]][..., None, None], pos[f[..., 2]][..., None, None]
    size = (jnp.asarray(SCALE_VALUES)[f[..., 3]] * BASE_SIZE)[..., None, None]
    angle = jnp.asarray(ORIENTATION_VALUES)[f[..., 4]][..., None, None]
    rows = jnp.arange(IMAGE_SHAPE[0], dtype=jnp.float32)[:, None] + 0.5
    cols = jnp.arange(IMAGE_SHAPE[1], dtype=jnp.float32)[None, :] + 0.5
    dx, dy = cols - cx, cy - rows
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    u = (cos * dx + sin * dy) / size
    v = (-sin * dx + cos * dy) / size
    square = (jnp.abs(u) <= 1.0) & (jnp.abs(v) <= 1.0)
    a, b = _ELLIPSE_AXES
    ellipse = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    n = jnp.asarray(_EDGE_NORMALS)
    triangle = ((n[0, 0] * u + n[0, 1] * v <= _TRIANGLE_INRADIUS) & (n[1, 0] * u + n[1, 1] * v <= _TRIANGLE_INRADIUS)
                & (n[2, 0] * u + n[2, 1] * v <= _TRIANGLE_INRADIUS))
    inside = jnp.where(shape_id == 0, square, jnp.where(shape_id == 1, ellipse, triangle))
    return inside.astype(jnp.float32)[..., None]


def _grid_factors(start: int, stop: int) -> np.ndarray:
    idx = np.arange(start, stop, dtype=np.int64)
    strides = [int(np.prod(FACTOR_SIZES[k + 1:])) for k in range(len(FACTOR_SIZES))]
    return np.stack([(idx // s) % n for s, n in zip(strides, FACTOR_SIZES)], axis=-1).astype(np.int32)


def _scan_unique(chunk: int = 4096) -> np.ndarray:
    """First grid index of each distinct image, ascending (renders all 276,480 images once)."""
    seen: dict[bytes, int] = {}
    keep = []
    render = jax.jit(lambda f: jnp.packbits(render_shapes(f)[..., 0].reshape(f.shape[0], -1) > 0.5, axis=-1))
    for start in range(0, GRID_SIZE, chunk):
        stop = min(start + chunk, GRID_SIZE)
        packed = np.asarray(render(_grid_factors(start, stop)))
        for i, row in enumerate(packed):
            key = row.tobytes()
            if key not in seen:
                seen[key] = start + i
                keep.append(start + i)
    return np.asarray(keep, np.int32)


@functools.lru_cache(maxsize=1)
def unique_indices() -> np.ndarray:
    """int32 grid indices of the distinct images (the first index of each), ascending.

    Renders the whole grid once per process (about 2 s on a 2-core CPU).
    """
    # Concrete even when first asked for inside a trace (a jitted training step's sampler).
    with jax.ensure_compile_time_eval():
        kept = _scan_unique()
    kept.setflags(write=False)
    return kept


def split_indices(split: str, kept: np.ndarray | None = None) -> np.ndarray:
    """Grid indices of `split`'s images: 70:15:15 within each shape, by a fixed permutation.

    `kept` defaults to `unique_indices()`; each shape's distinct images are permuted (seed 0) and cut
    at 70 % and 85 %, so the shapes keep their proportions in every split.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    if kept is None:
        return _default_split(split)
    return _split(split, np.asarray(kept))


@functools.lru_cache(maxsize=len(SPLITS))
def _default_split(split: str) -> np.ndarray:
    out = _split(split, unique_indices())
    out.setflags(write=False)
    return out


def _split(split: str, kept: np.ndarray) -> np.ndarray:
    if split == "all":
        return np.asarray(kept, np.int32)
    shape_of = kept // (GRID_SIZE // FACTOR_SIZES[0])
    rng = np.random.default_rng(_SPLIT_SEED)
    part = SPLITS.index(split)
    out = []
    for s in range(FACTOR_SIZES[0]):
        members = rng.permutation(kept[shape_of == s])
        cuts = np.round(np.cumsum(SPLIT_FRACTIONS)[:2] * members.size).astype(int)
        out.append(np.split(members, cuts)[part])
    return np.sort(np.concatenate(out)).astype(np.int32)


class ThreeShapes(GroundTruthDataset):
    """Peychev et al. (2018)'s square / ellipse / triangle grid; training draws from `split`'s
    distinct images (see the module docstring)."""

    def __init__(self, split: str = "train") -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
        super().__init__(name="three_shapes", factor_names=FACTOR_NAMES, factor_sizes=FACTOR_SIZES,
                         image_shape=IMAGE_SHAPE)
        object.__setattr__(self, "split", split)
        split_indices(split)  # the duplicate scan, here rather than inside the first jitted sampler

    def _identity(self) -> tuple:
        return super()._identity() + (self.split,)

    def __repr__(self) -> str:
        return f"ThreeShapes({self.split!r})"

    @property
    def split_size(self) -> int:
        """Distinct images in this split."""
        return int(split_indices(self.split).size)

    def sample_factors(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` factors drawn uniformly from this split's distinct images, int32 ``[n, 5]``."""
        pool = jnp.asarray(split_indices(self.split))
        return self.index_to_factors(pool[jax.random.randint(key, (int(n),), 0, pool.shape[0])])

    def render(self, factors: Any) -> jax.Array:
        self._check_factors(factors)
        return render_shapes(factors)
