"""The planar system: an agent with a continuous 2-D position among six obstacles, seen from above.

Banijamali, Khajenezhad, Ghodsi & Ghavamzadeh (2018), Sec. 4 (the planar system of E2C, Watter
et al. 2015): "an agent in a surrounded area, whose goal is to navigate from a corner to the
opposite one, while avoiding the six obstacles", observed through 40x40 images taken from the top;
actions are two-dimensional and move the agent. Their two observation sets X and Y see the same
system and "differ in the shape of the agent" (Fig. 3): ``agent_shape="disc"`` is set X here,
``"cross"`` set Y.

State: the agent's centre ``(x, y)`` float32 in pixels, ``x`` along the columns, ``y`` down the
rows; pixel ``(r, c)`` covers ``[c, c + 1) x [r, r + 1)`` and its centre is ``(c + 0.5, r + 0.5)``.
Dynamics, Eq. 1 of the paper without its noise term: ``s' = s + clip(u, -b, b)``, unless the agent
at ``s'`` would overlap an obstacle or leave the box, in which case ``s' = s``.

Chosen here, where the papers are silent:

* the obstacles (:data:`OBSTACLES`, centre ``(x, y)`` and radius, px): six discs laid across the
  diagonal so that the straight corner-to-corner line is blocked (the disc at the centre sits on
  it) while free corridors go around them (checked in the tests by a flood fill);
* the agent, for collisions, is a disc of radius :data:`AGENT_RADIUS` = 2.5 px whatever its drawn
  shape, so X and Y have exactly the same dynamics (the paper's premise); its centre stays in
  ``[2.5, size - 2.5]^2`` (the whole agent in the frame) and at least ``R + 2.5`` from each
  obstacle's centre;
* no dynamics noise: Eq. 1 has a noise term ``n^S`` but no level is given; the env is
  deterministic and a method may add noise to its data if it wants;
* ``action_bound = 2`` px per step (the paper gives none; E2C's planar actions move a few pixels);
* drawing: obstacles at 0.5, the agent at 1.0 composited on top; both anti-aliased by coverage so
  the image moves smoothly with sub-pixel moves. The disc (radius 2 px) has coverage ``clip(r +
  0.5 - d, 0, 1)`` at distance ``d`` of a pixel centre (a one-pixel ramp: its total is 4 % above
  ``pi r^2`` at this radius, its centre of mass within 0.05 px of the position); the cross is a plus of two 5x2 px bars
  (half-length 2.5, half-width 1), each bar's coverage the exact product of its 1-D overlaps, the
  cross's ``bar_1 + bar_2 - centre box`` (their union, exactly);
* ``reset``: 32 candidates drawn uniformly in the box, the first free one taken (uniform over the
  free space given one is free); if none is free (probability below 1e-10: 53 % of the box is
  free) it falls back to :meth:`PlanarSystem.start_state`. A fixed number of draws keeps it
  cheap and branch-free under ``jit``/``vmap``;
* the task: :meth:`PlanarSystem.start_state` at ``(4, 4)`` (top-left), :meth:`goal_state` at
  ``(size - 4, size - 4)`` (bottom-right).
"""
from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from disentax.envs.base import Env
from disentax.errors import ConfigError

__all__ = [
    "PlanarSystem",
    "PlanarState",
    "OBSTACLES",
    "AGENT_RADIUS",
    "AGENT_SHAPES",
    "OBSTACLE_VALUE",
    "planar_map",
]

# (x, y, radius) in pixels of a 40x40 frame; scaled with `size`.
OBSTACLES = (
    (20.0, 20.0, 4.0),
    (11.0, 11.0, 3.0),
    (29.0, 29.0, 3.0),
    (31.0, 12.0, 3.0),
    (9.0, 28.0, 3.0),
    (20.0, 6.0, 2.0),
)
AGENT_RADIUS = 2.5
AGENT_SHAPES = ("disc", "cross")
OBSTACLE_VALUE = 0.5
_DISC_RADIUS = 2.0
_CROSS_HALF_LENGTH, _CROSS_HALF_WIDTH = 2.5, 1.0
_CORNER = 4.0
_CANDIDATES = 32


@flax.struct.dataclass
class PlanarState:
    """``position``: float32 [2], the agent's centre ``(x, y)`` in pixels."""

    position: jax.Array


class PlanarSystem(Env):
    """The planar system of Banijamali et al. (2018), Sec. 4; see the module docstring.

    ``PlanarSystem(agent_shape="disc" | "cross", size=40, action_bound=2.0)``: observations
    ``[size, size, 1]``, actions ``[2]`` clipped to ``[-action_bound, action_bound]^2``,
    coordinates ``("x", "y")``. Obstacles scale with ``size`` (positions and radii times
    ``size / 40``); the agent's size does not.
    """

    def __init__(self, agent_shape: str = "disc", size: int = 40, action_bound: float = 2.0):
        if agent_shape not in AGENT_SHAPES:
            raise ConfigError(f"planar agent_shape must be one of {', '.join(AGENT_SHAPES)}; got {agent_shape!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 16:
            raise ConfigError(f"planar size must be an int >= 16; got {size!r}")
        if not (isinstance(action_bound, (int, float)) and not isinstance(action_bound, bool) and action_bound > 0):
            raise ConfigError(f"planar action_bound must be a positive number; got {action_bound!r}")
        scale = size / 40.0
        obstacles = tuple((x * scale, y * scale, r * scale) for x, y, r in OBSTACLES)
        self._set(
            name="planar" if agent_shape == "disc" else "planar_y",
            agent_shape=agent_shape,
            size=int(size),
            action_bound=float(action_bound),
            action_dim=2,
            observation_shape=(int(size), int(size), 1),
            coordinate_names=("x", "y"),
            obstacles=obstacles,
            margin=AGENT_RADIUS,
            _obstacle_image=_obstacle_image(obstacles, int(size)),
        )

    def _settings(self) -> tuple:
        return (self.agent_shape, self.size, self.action_bound)

    def __repr__(self) -> str:
        return f"PlanarSystem(agent_shape={self.agent_shape!r}, size={self.size}, action_bound={self.action_bound})"

    # ------------------------------------------------------------------ geometry

    def is_free(self, position) -> jax.Array:
        """Whether the agent can be at ``position [..., 2]`` ``(x, y)``: inside ``[m, size - m]^2``
        (``m`` = :data:`AGENT_RADIUS`) and at least ``R + m`` from every obstacle centre."""
        p = jnp.asarray(position, jnp.float32)
        lo, hi = self.margin, self.size - self.margin
        inside = jnp.all((p >= lo) & (p <= hi), axis=-1)
        obs = jnp.asarray(self.obstacles, jnp.float32)  # [6, 3]
        d2 = jnp.sum((p[..., None, :] - obs[:, :2]) ** 2, axis=-1)
        clear = jnp.all(d2 >= (obs[:, 2] + self.margin) ** 2, axis=-1)
        return inside & clear

    def start_state(self) -> PlanarState:
        """The task's start, the top-left corner ``(4, 4)``."""
        return PlanarState(position=jnp.array([_CORNER, _CORNER], jnp.float32))

    def goal_state(self) -> PlanarState:
        """The task's goal, the opposite (bottom-right) corner ``(size - 4, size - 4)``."""
        far = self.size - _CORNER
        return PlanarState(position=jnp.array([far, far], jnp.float32))

    # ----------------------------------------------------------------- interface

    def reset(self, key) -> PlanarState:
        """A free position: the first free one of 32 uniform draws in the box (the start state if
        none is, see the module docstring)."""
        lo, hi = self.margin, self.size - self.margin
        cand = jax.random.uniform(key, (_CANDIDATES, 2), minval=lo, maxval=hi)
        free = self.is_free(cand)
        first = cand[jnp.argmax(free)]
        return PlanarState(position=jnp.where(jnp.any(free), first, self.start_state().position))

    def step(self, state: PlanarState, action) -> PlanarState:
        """``s' = s + clip(u, -b, b)`` if that position is free, else ``s' = s`` (Banijamali et al.
        (2018), Eq. 1 without noise)."""
        u = jnp.clip(jnp.asarray(action, jnp.float32), -self.action_bound, self.action_bound)
        nxt = state.position + u
        return PlanarState(position=jnp.where(self.is_free(nxt), nxt, state.position))

    def agent_coverage(self, position) -> jax.Array:
        """The agent's coverage ``[size, size]`` in [0, 1] with its centre at ``position (x, y)``."""
        centres = jnp.arange(self.size, dtype=jnp.float32) + 0.5
        p = jnp.asarray(position, jnp.float32)
        dx = jnp.abs(centres[None, :] - p[0])  # columns
        dy = jnp.abs(centres[:, None] - p[1])  # rows
        if self.agent_shape == "disc":
            return jnp.clip(_DISC_RADIUS + 0.5 - jnp.sqrt(dx * dx + dy * dy), 0.0, 1.0)

        def bar(a, b):  # exact area inside each pixel of a box of half sizes a (x) and b (y)
            return jnp.clip(a + 0.5 - dx, 0.0, 1.0) * jnp.clip(b + 0.5 - dy, 0.0, 1.0)

        # The bars' overlap is the central box, so inclusion-exclusion gives the union's exact area.
        w = _CROSS_HALF_WIDTH
        return bar(_CROSS_HALF_LENGTH, w) + bar(w, _CROSS_HALF_LENGTH) - bar(w, w)

    def render(self, state: PlanarState) -> jax.Array:
        """``[size, size, 1]``: obstacles at 0.5, the agent at 1.0 over them (alpha by coverage)."""
        a = self.agent_coverage(state.position)
        img = a + (1.0 - a) * jnp.asarray(self._obstacle_image)
        return img[..., None]

    def coordinates(self, state: PlanarState) -> jax.Array:
        """``(x, y)`` float32 px."""
        return jnp.asarray(state.position, jnp.float32)


def _obstacle_image(obstacles, size: int) -> np.ndarray:
    """Obstacles drawn at :data:`OBSTACLE_VALUE` with coverage ``clip(R + 0.5 - d, 0, 1)``."""
    c = np.arange(size, dtype=np.float32) + 0.5
    img = np.zeros((size, size), np.float32)
    for x, y, r in obstacles:
        d = np.sqrt((c[None, :] - x) ** 2 + (c[:, None] - y) ** 2)
        img = np.maximum(img, np.clip(r + 0.5 - d, 0.0, 1.0))
    out = (OBSTACLE_VALUE * img).astype(np.float32)
    out.setflags(write=False)
    return out


def planar_map(env: PlanarSystem) -> np.ndarray:
    """The true state space as a picture: bool ``[size, size]``, True where the agent's centre can be
    at the pixel centre ``(c + 0.5, r + 0.5)`` (row ``r`` is ``y``, column ``c`` is ``x``)."""
    c = np.arange(env.size, dtype=np.float32) + 0.5
    xy = np.stack(np.meshgrid(c, c, indexing="xy"), axis=-1)  # [r, c, (x, y)]
    return np.asarray(env.is_free(xy))
