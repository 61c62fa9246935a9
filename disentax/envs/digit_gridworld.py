"""A grid world of two handwritten digits, each moved by its own four actions.

Thomas, Bengio, Fedus, Pondard, Beaudoin, Larochelle, Pineau, Precup & Bengio (2018), App. B.1: "a
gridworld MNIST environment, where there are two MNIST digits. The two digits can be moved on the
grid via 4 directional actions (so there are 8 actions total), the first digit is always odd and
the second digit always even, so they are distinguishable." The ground truth is the four
coordinates ``(x1, y1, x2, y2)`` (their Fig. 4).

Actions 0-3 move digit 1 and 4-7 digit 2, each (down, left, right, up); a move off the grid
leaves that digit in place. The state is ``position`` int32 ``[2, 2]`` (digit, (row, col)) grid
indices and ``glyph`` int32 ``[2]``: digit 1's index into the odd glyphs, digit 2's into the even.

Chosen here, where the paper is silent:

* glyphs: offline scikit-learn digits (:mod:`disentax.data.digits`) in place of MNIST, from the
  ``split`` ("train" by default) of its stratified train/test split, upsampled 8x8 -> 16x16
  (bilinear, ``jax.image.resize``, clipped to [0, 1]); a glyph is drawn for each digit at ``reset``
  (uniform over the odd, resp. even, glyphs of the split) and kept for the episode;
* the grid: 7x7 positions 8 px apart, the glyph's top-left corner at ``(8 row, 8 col)``, so a 16x16
  glyph at the last position touches the border of the 64x64x1 frame; neighbouring positions
  overlap by half a glyph, so every move changes the image;
* the two digits may share or overlap cells; where they overlap, the brighter pixel wins (max);
* ``reset``: both positions uniform over the 49 cells, independently;
* ``all_states()``: the first odd and the first even glyph at all 7^4 = 2,401 position pairs,
  lexicographic in ``(x1, y1, x2, y2)`` with ``x1`` slowest.
"""
from __future__ import annotations

import functools
import itertools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from disentax.data import digits
from disentax.envs.base import Env
from disentax.errors import ConfigError

__all__ = ["DigitGridWorld", "DigitState", "DIGIT_ACTIONS", "SPLITS", "digit_glyphs"]

_DIRECTIONS = (("down", (1, 0)), ("left", (0, -1)), ("right", (0, 1)), ("up", (-1, 0)))
DIGIT_ACTIONS = tuple(f"{d}_{name}" for d in ("digit1", "digit2") for name, _ in _DIRECTIONS)
SPLITS = ("train", "test")


@flax.struct.dataclass
class DigitState:
    """``position``: int32 [2, 2], (digit, (row, col)) grid cells; ``glyph``: int32 [2], digit 1's
    index into the odd glyphs and digit 2's into the even glyphs."""

    position: jax.Array
    glyph: jax.Array


@functools.lru_cache(maxsize=8)
def digit_glyphs(split: str, glyph_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The split's scikit-learn digits at ``glyph_size`` px: (odd float32 [N_odd, g, g], even
    float32 [N_even, g, g]), values in [0, 1], in the split's order."""
    images, labels = digits.load_digits_arrays()
    idx = digits.split_indices()[SPLITS.index(split)]
    imgs, labs = images[idx], labels[idx]
    up = jax.image.resize(jnp.asarray(imgs), (imgs.shape[0], glyph_size, glyph_size, 1), method="bilinear")
    up = np.clip(np.asarray(up, np.float32)[..., 0], 0.0, 1.0)
    odd, even = up[labs % 2 == 1], up[labs % 2 == 0]
    odd.setflags(write=False)
    even.setflags(write=False)
    return odd, even


class DigitGridWorld(Env):
    """Two digits on a grid, Thomas et al. (2018), App. B.1; see the module docstring.

    ``DigitGridWorld(split="train", grid=7, spacing=8, glyph_size=16)``: observations ``[S, S, 1]``
    with ``S = spacing (grid - 1) + glyph_size`` (64 by default), 8 actions
    (:data:`DIGIT_ACTIONS`), coordinates ``("x1", "y1", "x2", "y2")`` (column, row of each digit).
    """

    def __init__(self, split: str = "train", grid: int = 7, spacing: int = 8, glyph_size: int = 16):
        if split not in SPLITS:
            raise ConfigError(f"digit_gridworld split must be one of {', '.join(SPLITS)}; got {split!r}")
        for key, value, low in (("grid", grid, 2), ("spacing", spacing, 1), ("glyph_size", glyph_size, 4)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"digit_gridworld {key} must be an int >= {low}; got {value!r}")
        grid, spacing, glyph_size = int(grid), int(spacing), int(glyph_size)
        odd, even = digit_glyphs(split, glyph_size)
        size = spacing * (grid - 1) + glyph_size
        self._set(
            name="digit_gridworld",
            split=split,
            grid=grid,
            spacing=spacing,
            glyph_size=glyph_size,
            num_actions=len(DIGIT_ACTIONS),
            action_names=DIGIT_ACTIONS,
            observation_shape=(size, size, 1),
            coordinate_names=("x1", "y1", "x2", "y2"),
            odd_glyphs=odd,
            even_glyphs=even,
            _moves=np.asarray([m for _ in range(2) for _, m in _DIRECTIONS], np.int32),
        )

    def _settings(self) -> tuple:
        return (self.split, self.grid, self.spacing, self.glyph_size)

    def __repr__(self) -> str:
        return (f"DigitGridWorld(split={self.split!r}, grid={self.grid}, spacing={self.spacing}, "
                f"glyph_size={self.glyph_size})")

    def reset(self, key) -> DigitState:
        """Both cells uniform on the grid; an odd and an even glyph drawn uniformly."""
        k_pos, k_odd, k_even = jax.random.split(key, 3)
        position = jax.random.randint(k_pos, (2, 2), 0, self.grid, dtype=jnp.int32)
        glyph = jnp.stack([
            jax.random.randint(k_odd, (), 0, len(self.odd_glyphs), dtype=jnp.int32),
            jax.random.randint(k_even, (), 0, len(self.even_glyphs), dtype=jnp.int32),
        ])
        return DigitState(position=position, glyph=glyph)

    def step(self, state: DigitState, action) -> DigitState:
        """Action ``a`` moves digit ``a // 4`` by direction ``a % 4`` (down, left, right, up) unless
        that leaves the grid; the other digit does not move."""
        a = jnp.asarray(action, jnp.int32)
        which = (jnp.arange(2) == a // 4)[:, None]  # [2, 1]: the digit this action moves
        target = state.position + jnp.where(which, jnp.asarray(self._moves)[a], 0)
        ok = jnp.all((target >= 0) & (target < self.grid), axis=-1, keepdims=True)
        return DigitState(position=jnp.where(ok, target, state.position), glyph=state.glyph)

    def glyph_images(self, glyph) -> jax.Array:
        """The two glyphs ``[2, g, g]`` of ``glyph [2]`` (odd index, even index)."""
        return jnp.stack([jnp.asarray(self.odd_glyphs)[glyph[0]], jnp.asarray(self.even_glyphs)[glyph[1]]])

    def render(self, state: DigitState) -> jax.Array:
        """``[S, S, 1]``: each glyph pasted with its top-left corner at ``spacing * (row, col)``,
        the two combined by max."""
        size = self.observation_shape[0]
        g = self.glyph_images(state.glyph)
        corners = state.position * self.spacing
        planes = [jax.lax.dynamic_update_slice(jnp.zeros((size, size), jnp.float32), g[j], (corners[j, 0],
                                               corners[j, 1])) for j in range(2)]
        return jnp.maximum(planes[0], planes[1])[..., None]

    def coordinates(self, state: DigitState) -> jax.Array:
        """``(x1, y1, x2, y2)`` float32 grid indices (column, row of digit 1, then digit 2)."""
        return state.position[:, ::-1].reshape(4).astype(jnp.float32)

    def all_states(self) -> DigitState:
        """The first odd and first even glyph at every pair of positions (see the module docstring)."""
        xyxy = np.asarray(list(itertools.product(range(self.grid), repeat=4)), np.int32)  # (x1, y1, x2, y2)
        position = np.stack([xyxy[:, [1, 0]], xyxy[:, [3, 2]]], axis=1)  # (digit, (row, col))
        glyph = np.zeros((len(xyxy), 2), np.int32)
        return DigitState(position=jnp.asarray(position), glyph=jnp.asarray(glyph))
