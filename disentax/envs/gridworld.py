"""A MazeBase-like grid world: a red disc moved between cells, orange wall blocks, optionally a switch.

Thomas, Bengio, Fedus, Pondard, Beaudoin, Larochelle, Pineau, Precup & Bengio (2018), Sec. 4 and
App. A.2, B.3, on MazeBase (Sukhbaatar et al. 2015): "the agent (a red circle) can move in a small
environment (64x64 pixels) and perform the actions down, left, right, up. The agent can go anywhere
except on the orange blocks." Only permissible actions, no no-op (App. A.2). Sec. 4.1 adds "the
redundant action up as well as the action down+left"; App. B.3 uses a 4x4 maze with a switch whose
state is "represented by shades of green" and the actions (up, left, pass, right, toggle, down).

``GridWorld(grid=8, cell=8, walls=((3, 4),), actions="basic" | "redundant", switch=False)``: a
``grid x grid`` board of ``cell x cell`` pixel cells (64x64x3 by default). The state is the agent's
cell ``position = (row, col)`` int32 and ``switch_on`` int32 (0 or 1; always 0 without a switch).
"down" adds 1 to the row, "right" 1 to the column. A move whose target is off the board or on a
wall leaves the agent where it is (that is how an "invalid move" reads here: the action is taken,
nothing changes).

Chosen here, where the paper is silent:

* one interior wall cell at (row 3, col 4) by default: Fig. 2b's latent lattice misses exactly one
  position, "the only position the agent cannot reach" on an orange block;
* colours: background black, walls orange ``(1, 0.5, 0)`` filling their cell, the agent a red
  ``(1, 0, 0)`` disc of radius ``0.375 cell`` at its cell's centre, anti-aliased by coverage
  (``clip(r + 0.5 - d, 0, 1)``) and composited over what is below;
* down+left moves diagonally in one step and is blocked only by its target cell (a wall at the
  target or the edge), not by the two cells beside the diagonal;
* the switch variant (``GridWorld(grid=4, cell=16, walls=(), switch=True)``): the switch sits at
  cell (2, 1), drawn as a green square inset by ``cell / 8`` px, ``(0, 1, 0)`` when on and ``(0,
  0.35, 0)`` when off; "toggle" flips it only when the agent stands on it, and "pass" does nothing.
  The agent is drawn over the switch;
* ``reset`` draws the cell uniformly over free cells and, with a switch, its state uniformly;
* ``all_states()`` lists the free cells in row-major order (with a switch: each cell with the
  switch off, then on).
"""
from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from disentax.envs.base import Env
from disentax.errors import ConfigError

__all__ = [
    "GridWorld",
    "GridState",
    "ACTION_SETS",
    "SWITCH_ACTIONS",
    "SWITCH_CELL",
    "WALL_COLOUR",
    "AGENT_COLOUR",
    "SWITCH_COLOURS",
]

# (row change, column change) of each action; "toggle" and "pass" change no position.
_MOVES = {
    "down": (1, 0),
    "left": (0, -1),
    "right": (0, 1),
    "up": (-1, 0),
    "down+left": (1, -1),
    "pass": (0, 0),
    "toggle": (0, 0),
}
ACTION_SETS = {
    "basic": ("down", "left", "right", "up"),
    "redundant": ("down", "left", "right", "up", "up", "down+left"),
}
SWITCH_ACTIONS = ("up", "left", "pass", "right", "toggle", "down")
SWITCH_CELL = (2, 1)
WALL_COLOUR = (1.0, 0.5, 0.0)
AGENT_COLOUR = (1.0, 0.0, 0.0)
SWITCH_COLOURS = ((0.0, 0.35, 0.0), (0.0, 1.0, 0.0))  # off, on
_AGENT_RADIUS = 0.375  # of a cell


@flax.struct.dataclass
class GridState:
    """``position``: int32 [2], the agent's cell ``(row, col)``; ``switch_on``: int32 [], 0 or 1."""

    position: jax.Array
    switch_on: jax.Array


def _check_int(key: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"gridworld {key} must be an int >= {minimum}; got {value!r}")
    return int(value)


class GridWorld(Env):
    """The grid world of Thomas et al. (2018), Sec. 4; see the module docstring.

    Observations ``[grid * cell, grid * cell, 3]``; ``num_actions``, ``action_names`` from
    ``actions`` (or :data:`SWITCH_ACTIONS` with ``switch=True``); coordinates ``("x", "y")`` =
    (column, row) as float32, plus ``"switch"`` for the switch variant.
    """

    def __init__(self, grid: int = 8, cell: int = 8, walls=((3, 4),), actions: str = "basic", switch: bool = False):
        grid = _check_int("grid", grid, 2)
        cell = _check_int("cell", cell, 4)
        if actions not in ACTION_SETS:
            raise ConfigError(f"gridworld actions must be one of {', '.join(ACTION_SETS)}; got {actions!r}")
        switch = bool(switch)
        if switch and actions != "basic":
            raise ConfigError(f"gridworld actions must be 'basic' with switch=True (the switch has its own); got {actions!r}")
        try:
            walls = tuple(sorted({(int(r), int(c)) for r, c in walls}))
        except (TypeError, ValueError):
            raise ConfigError(f"gridworld walls must be (row, col) pairs; got {walls!r}") from None
        if any(not (0 <= r < grid and 0 <= c < grid) for r, c in walls):
            raise ConfigError(f"gridworld walls must be cells of the {grid}x{grid} board; got {walls!r}")
        if switch and (grid <= max(SWITCH_CELL) or SWITCH_CELL in walls):
            raise ConfigError(f"gridworld switch needs a free cell {SWITCH_CELL} on the board; got grid={grid}, "
                              f"walls={walls!r}")
        wall_mask = np.zeros((grid, grid), bool)
        for r, c in walls:
            wall_mask[r, c] = True
        if wall_mask.all():
            raise ConfigError("gridworld walls must leave at least one free cell")
        wall_mask.setflags(write=False)
        free = np.argwhere(~wall_mask).astype(np.int32)  # row-major
        free.setflags(write=False)
        names = SWITCH_ACTIONS if switch else ACTION_SETS[actions]
        name = "gridworld_switch" if switch else ("gridworld" if actions == "basic" else "gridworld_redundant")
        self._set(
            name=name,
            grid=grid,
            cell=cell,
            walls=walls,
            actions=actions,
            switch=switch,
            action_names=names,
            num_actions=len(names),
            observation_shape=(grid * cell, grid * cell, 3),
            coordinate_names=("x", "y", "switch") if switch else ("x", "y"),
            wall_mask=wall_mask,
            free_cells=free,
            _moves=np.asarray([_MOVES[a] for a in names], np.int32),
            _toggles=np.asarray([a == "toggle" for a in names], bool),
            _background=_background(grid, cell, wall_mask),
        )

    def _settings(self) -> tuple:
        return (self.grid, self.cell, self.walls, self.actions, self.switch)

    def __repr__(self) -> str:
        return (f"GridWorld(grid={self.grid}, cell={self.cell}, walls={self.walls!r}, actions={self.actions!r}, "
                f"switch={self.switch})")

    @property
    def num_free_cells(self) -> int:
        return int(self.free_cells.shape[0])

    def is_free(self, position) -> jax.Array:
        """Whether cell ``position [..., 2]`` ``(row, col)`` is on the board and not a wall."""
        p = jnp.asarray(position, jnp.int32)
        on_board = jnp.all((p >= 0) & (p < self.grid), axis=-1)
        q = jnp.clip(p, 0, self.grid - 1)
        return on_board & ~jnp.asarray(self.wall_mask)[q[..., 0], q[..., 1]]

    # ----------------------------------------------------------------- interface

    def reset(self, key) -> GridState:
        """A free cell drawn uniformly, and (switch variant) the switch's state uniformly."""
        k_cell, k_switch = jax.random.split(key)
        i = jax.random.randint(k_cell, (), 0, self.num_free_cells)
        on = jax.random.randint(k_switch, (), 0, 2, dtype=jnp.int32) if self.switch else jnp.zeros((), jnp.int32)
        return GridState(position=jnp.asarray(self.free_cells)[i], switch_on=on)

    def step(self, state: GridState, action) -> GridState:
        """Move by the action's (row, col) change unless the target is off the board or a wall;
        "toggle" flips the switch when the agent is on :data:`SWITCH_CELL`."""
        a = jnp.asarray(action, jnp.int32)
        target = state.position + jnp.asarray(self._moves)[a]
        position = jnp.where(self.is_free(target), target, state.position)
        on_switch = jnp.all(state.position == jnp.asarray(SWITCH_CELL, jnp.int32))
        flip = jnp.asarray(self._toggles)[a] & on_switch & self.switch
        return GridState(position=position, switch_on=jnp.where(flip, 1 - state.switch_on, state.switch_on))

    def render(self, state: GridState) -> jax.Array:
        """``[H, W, 3]``: walls and switch on black, the red agent disc composited on top."""
        size, cell = self.grid * self.cell, self.cell
        img = jnp.asarray(self._background)
        if self.switch:
            r0, c0 = SWITCH_CELL
            inset = max(1, cell // 8)
            rows = jnp.arange(size)
            in_r = (rows >= r0 * cell + inset) & (rows < (r0 + 1) * cell - inset)
            in_c = (rows >= c0 * cell + inset) & (rows < (c0 + 1) * cell - inset)
            colour = jnp.asarray(SWITCH_COLOURS, jnp.float32)[state.switch_on]
            img = jnp.where((in_r[:, None] & in_c[None, :])[..., None], colour, img)
        centres = jnp.arange(size, dtype=jnp.float32) + 0.5
        pos = (state.position.astype(jnp.float32) + 0.5) * cell  # (row, col) centre in px
        d = jnp.sqrt((centres[:, None] - pos[0]) ** 2 + (centres[None, :] - pos[1]) ** 2)
        a = jnp.clip(_AGENT_RADIUS * cell + 0.5 - d, 0.0, 1.0)[..., None]
        return a * jnp.asarray(AGENT_COLOUR, jnp.float32) + (1.0 - a) * img

    def coordinates(self, state: GridState) -> jax.Array:
        """``(x, y)`` = (column, row) float32, plus ``switch`` (0/1) for the switch variant."""
        xy = state.position[::-1].astype(jnp.float32)
        if self.switch:
            return jnp.concatenate([xy, state.switch_on.astype(jnp.float32)[None]])
        return xy

    def all_states(self) -> GridState:
        """Every reachable configuration, batched: the free cells in row-major order, and with a
        switch each cell with the switch off then on."""
        cells = np.asarray(self.free_cells)
        if not self.switch:
            return GridState(position=jnp.asarray(cells), switch_on=jnp.zeros(len(cells), jnp.int32))
        pos = np.repeat(cells, 2, axis=0)
        on = np.tile(np.array([0, 1], np.int32), len(cells))
        return GridState(position=jnp.asarray(pos), switch_on=jnp.asarray(on))


def _background(grid: int, cell: int, wall_mask: np.ndarray) -> np.ndarray:
    """Black board with the wall cells filled in :data:`WALL_COLOUR`."""
    big = np.repeat(np.repeat(wall_mask, cell, axis=0), cell, axis=1)
    img = np.where(big[..., None], np.asarray(WALL_COLOUR, np.float32), np.float32(0.0)).astype(np.float32)
    img.setflags(write=False)
    return img
