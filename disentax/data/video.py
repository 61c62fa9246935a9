"""Procedural video clips with known content and motion, rendered on device: the data of the
first sequence methods.

Two datasets, each a clip of ``T`` RGB frames on black whose generating factors split into a
*content* part (constant over the clip) and a *motion* part (how the objects move):

* :class:`ShapeMotion` -- Tulyakov, Liu, Yang & Kautz (2018), MoCoGAN, Sec. 4 "Shape motion":
  one circle or square, of varying size and colour, moving left to right or top to bottom along a
  trajectory sampled from a Bézier curve; 64x64, 16 frames.
* :class:`BouncingDigits` -- Whitney & Fergus (2018), App. C, "moving MNIST": two digits bouncing
  in a 64x64 frame, each in its own colour plane (red and green), with a random start and
  velocity; the motion is deterministic and the digits do not interact.

Coordinates are continuous ``(row, col)`` pixels: pixel ``(r, c)`` covers ``[r, r + 1) x [c, c +
1)`` and its centre is ``(r + 0.5, c + 0.5)``; the frame spans ``[0, S]`` on both axes.

Shape motion. Where the paper is silent, chosen here:

* size (radius of the circle, half side of the square) uniform in ``[4, 10]`` px at 64x64 (scaled
  by ``S / 64``): from a shape of about 50 px to one a quarter of the frame wide;
* colour: hue uniform, full saturation and value (HSV ``(h, 1, 1)``), so one RGB channel is always
  1 and every shape stands out from the black background;
* trajectory: a cubic Bézier curve ``B(t) = sum_i C(3, i) (1 - t)^(3 - i) t^i P_i``, position at
  frame ``k`` is ``B(k / (T - 1))``. Along the direction of motion (columns for left->right, rows
  for top->bottom) ``P_0`` sits at the margin ``m = 10 S / 64`` px from the start edge and ``P_3``
  at ``m`` from the opposite edge; the two inner control points are drawn uniformly in
  ``[m, S - m]`` and *sorted*, so that coordinate never decreases over the clip (a Bézier curve
  with monotone control points is monotone). Across the motion all four coordinates are uniform
  in ``[m, S - m]``. The curve stays in the convex hull of its control points, and ``m`` is the
  largest size, so a shape is never cut by the border;
* anti-aliased edges: a pixel's value is the shape's area inside it for the square (exact: the
  product of the two 1-D overlaps), and ``clip(r + 0.5 - d, 0, 1)`` at distance ``d`` from the
  circle's centre (a one-pixel ramp that approximates the area, within 1.5 % in total and 0.07 per
  pixel). Sub-pixel motion then moves the intensity smoothly; a square's pixel sum is exactly its
  area, and the centre of mass of either shape is within 0.04 px of its trajectory.

The paper trains on 4,000 fixed videos; here clips are drawn without end from the key (as the
procedural dSprites is), so every batch is new.

Bouncing digits. Chosen here:

* glyphs: the scikit-learn 8x8 digits (:mod:`disentax.data.digits`, its train/test split),
  upsampled to 20x20 and padded to 28x28 as in :mod:`disentax.data.mechanisms`, i.e. MNIST's
  geometry, so a 64x64 frame holds two 28x28 patches as in moving MNIST; ``source="mnist"`` takes
  the real MNIST glyphs from tensorflow-datasets instead (when prepared);
* start: the patch centre uniform in ``[14, S - 14]^2``; velocity: a uniform direction and a speed
  uniform in ``[2, 4]`` px per frame;
* reflection at the edges in closed form: the patch centre unfolds to ``u = p_0 - 14 + v t`` and
  folds back with the triangle wave ``14 + L - |(u mod 2L) - L|``, ``L = S - 28``, exactly what
  stepping frame by frame and mirroring at each wall gives, for any number of bounces;
* positions are continuous and the glyph is placed with bilinear interpolation, so the motion
  is smooth at any speed; whole-pixel positions place the glyph exactly.

Both ``render`` functions are pure, jit-able and batched by broadcasting (no Python loop over
examples or frames).
"""
from __future__ import annotations

import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data import digits, mechanisms
from disentax.data.multi_dsprites import hsv_to_rgb
from disentax.data.tfds import TFDSImages

__all__ = [
    "BouncingDigits",
    "ShapeMotion",
    "SHAPES",
    "DIRECTIONS",
    "bezier",
    "bounce",
    "render_shapes",
    "render_digits",
]

SHAPES = ("circle", "square")
DIRECTIONS = ("left_to_right", "top_to_bottom")
SHARED = ("content", "motion")
# Shape sizes (radius / half side) and the trajectory margin, in pixels of a 64x64 frame.
SIZE_RANGE = (4.0, 10.0)
# Bouncing digits: the glyph patch side (MNIST's 28) and the speed range in px per frame.
GLYPH_SIZE = 28
SPEED_RANGE = (2.0, 4.0)
SPLITS = ("train", "test")
SOURCES = ("digits", "mnist")


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be a python int >= {minimum}, got {value!r}")
    return int(value)


def _frame_times(num_frames: int) -> jax.Array:
    """``k / (T - 1)`` for k = 0..T-1: the Bézier parameter of each frame."""
    return jnp.arange(num_frames, dtype=jnp.float32) / (num_frames - 1)


def bezier(control, t):
    """Cubic Bézier points ``B(t) = (1-t)^3 P0 + 3 (1-t)^2 t P1 + 3 (1-t) t^2 P2 + t^3 P3``.

    ``control [..., 4, D]``, ``t [T]`` -> ``[..., T, D]`` (Bernstein form, one product per point).
    """
    t = jnp.asarray(t, jnp.float32)
    s = 1.0 - t
    basis = jnp.stack([s**3, 3.0 * s**2 * t, 3.0 * s * t**2, t**3], axis=-1)  # [T, 4]
    return jnp.einsum("tk,...kd->...td", basis, jnp.asarray(control, jnp.float32))


def bounce(start, velocity, t, lo, hi):
    """Positions of points moving at constant ``velocity`` from ``start`` inside ``[lo, hi]``,
    mirrored at both ends: ``lo + L - |((start - lo + v t) mod 2L) - L|``, ``L = hi - lo``.

    ``start``, ``velocity [...]``, ``t [T]`` -> ``[T, ...]``. The triangle wave is the unfolded
    straight line folded back into the interval: each crossing of a wall reverses the velocity.
    """
    t = jnp.asarray(t, jnp.float32).reshape((-1,) + (1,) * jnp.ndim(start))
    span = hi - lo
    u = jnp.asarray(start, jnp.float32) - lo + jnp.asarray(velocity, jnp.float32) * t
    return lo + span - jnp.abs(jnp.mod(u, 2.0 * span) - span)


@functools.partial(jax.jit, static_argnums=(4, 5))
def render_shapes(shape, size, colour, control, num_frames: int, image_size: int):
    """Shape-motion clips ``[n, T, S, S, 3]``: a circle (shape 0) or square (1) of ``size``
    (radius / half side, px) and RGB ``colour [n, 3]``, centred at the Bézier point of
    ``control [n, 4, 2]`` at each frame, on black.

    With ``(dr, dc)`` the offset of a pixel centre from the shape's centre, the coverage is
    ``clip(h + 0.5 - |dr|, 0, 1) * clip(h + 0.5 - |dc|, 0, 1)`` for the square (its exact area in
    the pixel, for ``h >= 0.5``) and ``clip(r + 0.5 - sqrt(dr^2 + dc^2), 0, 1)`` for the circle.
    """
    pos = bezier(control, _frame_times(num_frames))  # [n, T, 2]
    centres = jnp.arange(image_size, dtype=jnp.float32) + 0.5
    dr = centres[None, None, :, None] - pos[:, :, 0, None, None]  # [n, T, S, 1]
    dc = centres[None, None, None, :] - pos[:, :, 1, None, None]  # [n, T, 1, S]
    h = jnp.asarray(size, jnp.float32)[:, None, None, None]
    square = jnp.clip(h + 0.5 - jnp.abs(dr), 0.0, 1.0) * jnp.clip(h + 0.5 - jnp.abs(dc), 0.0, 1.0)
    circle = jnp.clip(h + 0.5 - jnp.sqrt(dr * dr + dc * dc), 0.0, 1.0)
    cover = jnp.where(jnp.asarray(shape)[:, None, None, None] == 0, circle, square)
    return cover[..., None] * jnp.asarray(colour, jnp.float32)[:, None, None, None, :]


def _digit_positions(start, velocity, num_frames: int, image_size: int):
    """Patch centres ``[n, T, 2, 2]`` (frame, digit, (row, col)) bouncing inside the frame."""
    half = GLYPH_SIZE / 2.0
    t = jnp.arange(num_frames, dtype=jnp.float32)
    pos = bounce(start, velocity, t, half, image_size - half)  # [T, n, 2, 2]
    return jnp.moveaxis(pos, 0, 1)


def _subpixel_patches(glyphs, frac):
    """Glyphs ``[..., 28, 28]`` moved by ``frac [..., 2]`` in [0, 1) px down and right, as ``[...,
    29, 29]`` patches: ``q[k] = (1 - f) g[k] + f g[k - 1]`` along each axis (zero outside ``g``)."""
    g = jnp.pad(glyphs, [(0, 0)] * (glyphs.ndim - 2) + [(1, 1), (1, 1)])  # g[-1] and g[28] are 0
    fr, fc = frac[..., 0, None, None], frac[..., 1, None, None]
    rows = (1.0 - fr) * g[..., 1:, :] + fr * g[..., :-1, :]
    return (1.0 - fc) * rows[..., 1:] + fc * rows[..., :-1]


@functools.partial(jax.jit, static_argnums=(3, 4))
def render_digits(glyphs, start, velocity, num_frames: int, image_size: int):
    """Bouncing-digit clips ``[n, T, S, S, 3]``: glyph ``j`` of ``glyphs [n, 2, 28, 28]`` (values
    in [0, 1]) drawn in channel ``j`` (red, green; blue is 0) with its patch centred at the
    bouncing position of ``start``, ``velocity [n, 2, 2]`` at each frame, on black.

    Bilinear placement: a patch whose first row and column sit at ``top = I + f`` (``I`` whole,
    ``0 <= f < 1``) puts ``(1 - f) g[r - I] + f g[r - I - 1]`` at frame row ``r`` (likewise for
    columns), i.e. ``sum_i max(0, 1 - |r - top - i|) g[i]``. The fractional shift is done on the
    29x29 patch, the whole-pixel one by slicing a zero-padded canvas.
    """
    size, side = image_size, GLYPH_SIZE + 1
    pos = _digit_positions(start, velocity, num_frames, image_size)  # [n, T, 2, 2]
    top = pos - GLYPH_SIZE / 2.0
    # Clamped so float rounding at a wall cannot push the slice start out of range (dynamic_slice
    # would clamp it silently, moving the digit by a pixel).
    whole = jnp.clip(jnp.floor(top), 0, size - GLYPH_SIZE)
    frac = jnp.clip(top - whole, 0.0, 1.0)
    g = jnp.asarray(glyphs, jnp.float32)[:, None]  # [n, 1, 2, 28, 28]
    patches = _subpixel_patches(g, frac)  # [n, T, 2, 29, 29]
    # canvas[off + k] = q[k] with off = S - 28, so frame[r] = canvas[off - I + r] = q[r - I].
    off = size - GLYPH_SIZE
    starts = off - whole.astype(jnp.int32)
    window = jax.vmap(lambda c, s: jax.lax.dynamic_slice(c, (s[0], s[1]), (size, size)))
    planes = []
    for j in range(2):  # one plane per digit, stacked channel-last at the end (cheaper than a transpose)
        canvas = jnp.pad(patches[:, :, j], [(0, 0), (0, 0), (off, size - side), (off, size - side)])
        flat = window(canvas.reshape(-1, 2 * size - GLYPH_SIZE, 2 * size - GLYPH_SIZE), starts[:, :, j].reshape(-1, 2))
        planes.append(jnp.clip(flat, 0.0, 1.0))  # float rounding only: the weights are convex
    planes.append(jnp.zeros_like(planes[0]))
    return jnp.stack(planes, axis=-1).reshape(*pos.shape[:2], size, size, 3)


class _Clips:
    """What both clip datasets share: immutability, equality by settings, ``sample`` and
    ``sample_shared`` built from ``sample_content``, ``sample_motion`` and ``render``."""

    on_host = False
    content_factors: tuple[str, ...] = ()
    motion_factors: tuple[str, ...] = ()
    num_objects = 1

    def __setattr__(self, key, value):
        # Mutation would silently invalidate jit caches keyed on the hash.
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {key!r}")

    def _set(self, **values) -> None:
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def _settings(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._settings() == other._settings()

    def __hash__(self):
        return hash((type(self).__name__,) + self._settings())

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, 3)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape of one frame, ``(H, W, 3)`` (what the loop and ``evaluate`` read)."""
        return self.frame_shape

    def sample(self, key, n: int):
        """``(clips [n, T, H, W, 3], factors)``: content and motion drawn independently from
        ``key``; ``factors = {**content, **motion, "position": trajectories [n, T, K, 2]}``."""
        n = _positive_int("n", n)
        k_content, k_motion = jax.random.split(key)
        content, motion = self.sample_content(k_content, n), self.sample_motion(k_motion, n)
        factors = {**content, **motion, "position": self.trajectories(content, motion)}
        return self.render(content, motion), factors

    def sample_shared(self, key, n: int, shared: str):
        """``(clips_a, clips_b)``, each ``[n, T, H, W, 3]``: row ``i`` of the two shares its
        ``shared`` part ("content" or "motion"); the other part is drawn independently for each."""
        if shared not in SHARED:
            raise ValueError(f"shared must be one of {', '.join(SHARED)}; got {shared!r}")
        n = _positive_int("n", n)
        k_shared, k_a, k_b = jax.random.split(key, 3)
        if shared == "content":
            content = self.sample_content(k_shared, n)
            return self.render(content, self.sample_motion(k_a, n)), self.render(content, self.sample_motion(k_b, n))
        motion = self.sample_motion(k_shared, n)
        return self.render(self.sample_content(k_a, n), motion), self.render(self.sample_content(k_b, n), motion)


class ShapeMotion(_Clips):
    """MoCoGAN's shape motion (Tulyakov et al. 2018, Sec. 4): a circle or square of random size
    and colour moving left->right or top->bottom along a Bézier curve, on black. See the module
    docstring for the distributions.

    Content: ``shape [n]`` int32 (0 circle, 1 square), ``size [n]`` float32 (px), ``colour [n, 3]``
    float32 RGB. Motion: ``direction [n]`` int32 (0 left->right, 1 top->bottom), ``control [n, 4,
    2]`` float32 Bézier control points (row, col) px. Immutable, hashable, equal by settings::

        ds = ShapeMotion()
        clips, factors = jax.jit(lambda k: ds.sample(k, 64))(key)   # [64, 16, 64, 64, 3]
    """

    name = "shape_motion"
    num_objects = 1
    content_factors = ("shape", "size", "colour")
    motion_factors = ("direction", "control")

    def __init__(self, num_frames: int = 16, image_size: int = 64):
        self._set(num_frames=_positive_int("num_frames", num_frames, 2),
                  image_size=_positive_int("image_size", image_size, 32))

    def _settings(self) -> tuple:
        return (self.num_frames, self.image_size)

    def __repr__(self) -> str:
        return f"ShapeMotion(num_frames={self.num_frames}, image_size={self.image_size})"

    @property
    def size_range(self) -> tuple[float, float]:
        """Smallest and largest size (radius / half side) in px at this image size."""
        scale = self.image_size / 64.0
        return (SIZE_RANGE[0] * scale, SIZE_RANGE[1] * scale)

    @property
    def margin(self) -> float:
        """Closest distance (px) of a trajectory to the border: the largest size."""
        return self.size_range[1]

    def sample_content(self, key, n: int) -> dict:
        """``{"shape" [n] int32, "size" [n] float32, "colour" [n, 3] float32}``: uniform shape,
        size uniform in :attr:`size_range`, colour ``hsv_to_rgb(h, 1, 1)`` with hue uniform."""
        n = _positive_int("n", n)
        k_shape, k_size, k_hue = jax.random.split(key, 3)
        lo, hi = self.size_range
        hue = jax.random.uniform(k_hue, (n,))
        return {
            "shape": jax.random.randint(k_shape, (n,), 0, len(SHAPES), dtype=jnp.int32),
            "size": jax.random.uniform(k_size, (n,), minval=lo, maxval=hi),
            "colour": hsv_to_rgb(jnp.stack([hue, jnp.ones_like(hue), jnp.ones_like(hue)], axis=-1)),
        }

    def sample_motion(self, key, n: int) -> dict:
        """``{"direction" [n] int32, "control" [n, 4, 2] float32}``: a uniform direction and the
        Bézier control points of the module docstring (monotone along the motion)."""
        n = _positive_int("n", n)
        k_dir, k_inner, k_cross = jax.random.split(key, 3)
        m, far = self.margin, self.image_size - self.margin
        direction = jax.random.randint(k_dir, (n,), 0, len(DIRECTIONS), dtype=jnp.int32)
        inner = jnp.sort(jax.random.uniform(k_inner, (n, 2), minval=m, maxval=far), axis=-1)
        along = jnp.concatenate([jnp.full((n, 1), m), inner, jnp.full((n, 1), far)], axis=-1)  # [n, 4]
        across = jax.random.uniform(k_cross, (n, 4), minval=m, maxval=far)
        # Left->right moves along columns (row = across); top->bottom along rows.
        lr = jnp.stack([across, along], axis=-1)
        tb = jnp.stack([along, across], axis=-1)
        return {"direction": direction, "control": jnp.where(direction[:, None, None] == 0, lr, tb)}

    def trajectories(self, content: dict, motion: dict) -> jax.Array:
        """The shape's centre per frame, ``[n, T, 1, 2]`` (row, col) px: ``B(k / (T - 1))``."""
        return bezier(motion["control"], _frame_times(self.num_frames))[:, :, None, :]

    def render(self, content: dict, motion: dict) -> jax.Array:
        """Clips ``[n, T, S, S, 3]`` in [0, 1], see :func:`render_shapes`."""
        return render_shapes(content["shape"], content["size"], content["colour"], motion["control"],
                             self.num_frames, self.image_size)


def _digit_glyphs(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's scikit-learn digits as 28x28 glyphs: (float32 [N, 28, 28], int32 [N])."""
    images, labels = mechanisms.mechanism_digit_arrays()
    idx = digits.split_indices()[SPLITS.index(split)]
    return images[idx, :, :, 0], labels[idx]


def _mnist_glyphs(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's MNIST digits from tensorflow-datasets: (uint8 [N, 28, 28], int32 [N])."""
    ds = TFDSImages("mnist", split)  # a one-line MissingExtraError / DatasetNotPreparedError otherwise
    images, labels = ds.read(np.arange(ds.num_examples))
    # Stored as bytes (47 MB for the 60,000 training digits); the read values are exactly k / 255.
    return np.round(images[..., 0] * 255.0).astype(np.uint8), labels


class BouncingDigits(_Clips):
    """Moving MNIST as Whitney & Fergus (2018), App. C use it: two digits bouncing in the frame,
    digit ``j`` in colour channel ``j`` (red, green; blue stays 0), on black, not interacting.
    See the module docstring for the glyphs and distributions.

    Content: ``digit [n, 2]`` int32 labels, ``glyph [n, 2]`` int32 indices into the split's glyphs.
    Motion: ``start [n, 2, 2]`` float32 patch centres at frame 0 and ``velocity [n, 2, 2]`` float32
    px per frame, (digit, (row, col)). ``split`` is "train" or "test" (the glyphs of that split);
    ``source`` "digits" (scikit-learn, offline) or "mnist" (tensorflow-datasets, prepared).
    Immutable, hashable, equal by settings; the glyphs live on device and jitted samplers close
    over them.
    """

    name = "bouncing_digits"
    num_objects = 2
    content_factors = ("digit", "glyph")
    motion_factors = ("start", "velocity")

    def __init__(self, split: str = "train", num_frames: int = 10, image_size: int = 64, source: str = "digits"):
        if split not in SPLITS:
            raise ValueError(f"unknown bouncing_digits split {split!r}; allowed: {', '.join(SPLITS)}")
        if source not in SOURCES:
            raise ValueError(f"unknown bouncing_digits source {source!r}; allowed: {', '.join(SOURCES)}")
        num_frames = _positive_int("num_frames", num_frames, 2)
        image_size = _positive_int("image_size", image_size, GLYPH_SIZE + 4)
        glyphs, labels = (_digit_glyphs if source == "digits" else _mnist_glyphs)(split)
        self._set(split=split, num_frames=num_frames, image_size=image_size, source=source,
                  glyphs=jnp.asarray(glyphs), labels=jnp.asarray(labels, jnp.int32),
                  num_glyphs=int(labels.shape[0]))

    def _settings(self) -> tuple:
        return (self.split, self.num_frames, self.image_size, self.source)

    def __repr__(self) -> str:
        return (f"BouncingDigits(split={self.split!r}, num_frames={self.num_frames}, "
                f"image_size={self.image_size}, source={self.source!r})")

    @property
    def position_range(self) -> tuple[float, float]:
        """Lowest and highest patch centre (px) on either axis: the patch stays inside the frame."""
        return (GLYPH_SIZE / 2.0, self.image_size - GLYPH_SIZE / 2.0)

    def glyph_images(self, glyph) -> jax.Array:
        """Glyphs ``[..., 28, 28]`` float32 in [0, 1] at indices ``glyph [...]``."""
        g = self.glyphs[jnp.asarray(glyph, jnp.int32)]
        return g.astype(jnp.float32) / 255.0 if self.glyphs.dtype == jnp.uint8 else g

    def sample_content(self, key, n: int) -> dict:
        """``{"digit" [n, 2], "glyph" [n, 2]}`` int32: two glyphs drawn uniformly (independently,
        with replacement) from the split, and their labels."""
        n = _positive_int("n", n)
        glyph = jax.random.randint(key, (n, 2), 0, self.num_glyphs, dtype=jnp.int32)
        return {"digit": self.labels[glyph], "glyph": glyph}

    def sample_motion(self, key, n: int) -> dict:
        """``{"start" [n, 2, 2], "velocity" [n, 2, 2]}`` float32: patch centres uniform in
        :attr:`position_range` squared; velocity a uniform direction times a speed uniform in
        ``SPEED_RANGE`` px per frame."""
        n = _positive_int("n", n)
        k_start, k_angle, k_speed = jax.random.split(key, 3)
        lo, hi = self.position_range
        start = jax.random.uniform(k_start, (n, 2, 2), minval=lo, maxval=hi)
        angle = jax.random.uniform(k_angle, (n, 2), maxval=2.0 * math.pi)
        speed = jax.random.uniform(k_speed, (n, 2), minval=SPEED_RANGE[0], maxval=SPEED_RANGE[1])
        velocity = speed[..., None] * jnp.stack([jnp.sin(angle), jnp.cos(angle)], axis=-1)
        return {"start": start, "velocity": velocity}

    def trajectories(self, content: dict, motion: dict) -> jax.Array:
        """Each digit's patch centre per frame, ``[n, T, 2, 2]`` (row, col) px, see :func:`bounce`."""
        return _digit_positions(motion["start"], motion["velocity"], self.num_frames, self.image_size)

    def render(self, content: dict, motion: dict) -> jax.Array:
        """Clips ``[n, T, S, S, 3]`` in [0, 1], see :func:`render_digits`."""
        return render_digits(self.glyph_images(content["glyph"]), motion["start"], motion["velocity"],
                             self.num_frames, self.image_size)
