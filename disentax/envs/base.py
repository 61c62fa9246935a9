"""What every environment shares: immutability and equality by settings, batched sampling of
rendered states, rollouts of an action sequence, and a strip picture of rendered states.

An environment here is a pure-JAX dynamical system with a known controllable state, the data of
the methods that learn factors by acting (Thomas et al. (2018); Banijamali et al. (2018)). It is an
immutable, hashable object (like the procedural datasets of :mod:`disentax.data`), so it can be
closed over in ``jax.jit`` or passed as a static argument. Its interface:

* ``name``, ``observation_shape (H, W, C)`` (float32 observations in [0, 1]);
* discrete action spaces: ``num_actions``, ``action_names``; continuous: ``action_dim``,
  ``action_bound`` (actions are clipped to ``[-bound, bound]^action_dim``);
* ``coordinate_names``: the true controllable coordinates;
* ``reset(key) -> state`` (a ``flax.struct.dataclass`` pytree of arrays), ``step(state, action) ->
  state`` (deterministic), ``render(state) -> obs [H, W, C]``, ``coordinates(state) -> float32
  [len(coordinate_names)]``;
* ``sample(key, n) -> (obs [n, H, W, C], coords [n, k])``: ``n`` states drawn by ``reset`` from
  ``n`` independent keys, rendered.

:func:`rollout` runs an action sequence with ``lax.scan``; :func:`render_states` renders states
batched over any number of leading axes.
"""
from __future__ import annotations

import functools
import numbers
from pathlib import Path
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Env", "rollout", "render_states", "coordinates_of", "save_env_strip"]


def _static_count(n: Any) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive python int (static under jit), got {n!r}")
    return int(n)


def _leading_shape(env: "Env", states) -> tuple[int, ...]:
    """The batch axes of ``states``: the leaves' shapes less the shape of one state."""
    one = jax.eval_shape(env.reset, jax.random.key(0))
    leaf, ref = jax.tree_util.tree_leaves(states)[0], jax.tree_util.tree_leaves(one)[0]
    return tuple(jnp.shape(leaf)[: jnp.ndim(leaf) - len(ref.shape)])


def _batched(fn, env: "Env", states):
    """``fn`` (one state -> array) applied over every leading axis of ``states``."""
    lead = _leading_shape(env, states)
    f = fn
    for _ in lead:
        f = jax.vmap(f)
    return f(states)


def render_states(env: "Env", states) -> jax.Array:
    """Observations ``[*lead, H, W, C]`` of ``states`` batched over leading axes ``lead`` (any
    number, e.g. ``[n]`` from :meth:`Env.sample` or ``[T + 1]`` from :func:`rollout`)."""
    return _batched(env.render, env, states)


def coordinates_of(env: "Env", states) -> jax.Array:
    """True coordinates ``[*lead, k]`` of ``states`` batched over leading axes."""
    return _batched(env.coordinates, env, states)


@functools.partial(jax.jit, static_argnums=0)
def _rollout(env: "Env", state, actions):
    def body(s, a):
        nxt = env.step(s, a)
        return nxt, nxt

    _, later = jax.lax.scan(body, state, actions)
    return jax.tree_util.tree_map(lambda s0, rest: jnp.concatenate([s0[None], rest], axis=0), state, later)


def rollout(env: "Env", state, actions) -> Any:
    """States ``[T + 1]`` visited from ``state`` under ``actions [T, ...]``, the initial state first:
    ``s_0 = state``, ``s_{t+1} = env.step(s_t, a_t)`` (a ``lax.scan``; jit-, vmap- and grad-safe
    in the state and, for continuous envs, the actions)."""
    return _rollout(env, state, actions)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _sample(env: "Env", key, n: int):
    states = jax.vmap(env.reset)(jax.random.split(key, n))
    return jax.vmap(env.render)(states), jax.vmap(env.coordinates)(states)


class Env:
    """Base class: immutability, equality and hash by :meth:`_settings`, and :meth:`sample`.

    Subclasses set their attributes once with :meth:`_set` in ``__init__`` (``name``,
    ``observation_shape``, ``coordinate_names`` and the action space) and implement ``reset``,
    ``step``, ``render``, ``coordinates`` and ``_settings``.
    """

    on_host = False  # rendering is traceable JAX, as for the procedural datasets

    def __setattr__(self, key: str, value: Any) -> None:
        # Mutation would silently invalidate jit caches keyed on the hash.
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {key!r}")

    def _set(self, **values: Any) -> None:
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def _settings(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._settings() == other._settings()

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._settings())

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Same as ``observation_shape`` (the name the training loop reads off a dataset)."""
        return self.observation_shape

    @property
    def discrete(self) -> bool:
        """True for a finite action set (``num_actions``), False for continuous actions."""
        return hasattr(self, "num_actions")

    def reset(self, key):  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, state, action):  # pragma: no cover - abstract
        raise NotImplementedError

    def render(self, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def coordinates(self, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, key, n: int):
        """``(obs [n, H, W, C], coords [n, k])``: ``reset`` at ``n`` keys split from ``key``, each
        state rendered, with its true coordinates."""
        return _sample(self, key, _static_count(n))


def save_env_strip(path, env: Env, states, labels: Sequence[str] | None = None, scale: int = 2) -> Path:
    """A PNG of rendered states: ``states`` batched ``[T]`` gives one row, ``[n, T]`` gives ``n``
    rows (e.g. :func:`rollout` s), each frame enlarged ``scale`` times, 2 px grey between frames;
    ``labels`` (one per row) are written on the left. (Drawn here with PIL rather than through
    :mod:`disentax.viz`, which sits above the data layer the envs belong to.)"""
    from PIL import Image, ImageDraw  # pictures only

    obs = np.asarray(render_states(env, states), np.float32)
    if obs.ndim == 4:
        obs = obs[None]
    if labels is not None and len(labels) != obs.shape[0]:
        raise ValueError(f"labels must give one string per row ({obs.shape[0]}), got {len(labels)}")
    obs = np.clip(obs, 0.0, 1.0)
    if obs.shape[-1] == 1:
        obs = np.repeat(obs, 3, axis=-1)
    tiles = (obs * 255).round().astype(np.uint8).repeat(scale, axis=2).repeat(scale, axis=3)
    n, t, h, w, _ = tiles.shape
    pad, left = 2, (110 if labels is not None else 0)
    canvas = np.full((n * (h + pad) + pad, left + t * (w + pad) + pad, 3), 128, np.uint8)
    if left:
        canvas[:, :left] = 255
    for i in range(n):
        for j in range(t):
            y, x = pad + i * (h + pad), left + pad + j * (w + pad)
            canvas[y:y + h, x:x + w] = tiles[i, j]
    img = Image.fromarray(canvas)
    if labels is not None:
        draw = ImageDraw.Draw(img)
        for i, text in enumerate(labels):
            draw.text((4, pad + i * (h + pad) + h // 2 - 6), str(text), fill=(0, 0, 0))
    img.save(path)
    return Path(path)
