"""Pure-JAX environments whose controllable state is known: the data of the methods that learn
factors by acting (Thomas et al. 2018; Banijamali et al. 2018). No gym: every env is an immutable,
hashable object with ``reset(key)``, ``step(state, action)``, ``render(state)``,
``coordinates(state)`` and ``sample(key, n)``, all jit- and vmap-safe (see
:mod:`disentax.envs.base`). They are registered as datasets too (:mod:`disentax.data.registry`, which holds
their one-line descriptions), so a config's ``dataset`` can name one.
"""
from __future__ import annotations

from typing import Callable

from disentax.data import registry
from disentax.envs.base import Env, coordinates_of, render_states, rollout, save_env_strip
from disentax.envs.digit_gridworld import DigitGridWorld, DigitState
from disentax.envs.gridworld import GridState, GridWorld
from disentax.envs.planar import PlanarState, PlanarSystem, planar_map

__all__ = [
    "DigitGridWorld",
    "DigitState",
    "Env",
    "GridState",
    "GridWorld",
    "PlanarState",
    "PlanarSystem",
    "available",
    "coordinates_of",
    "describe",
    "get_env",
    "planar_map",
    "render_states",
    "rollout",
    "save_env_strip",
]

_FACTORIES: dict[str, Callable[[], Env]] = {
    "gridworld": lambda: GridWorld(),
    "gridworld_redundant": lambda: GridWorld(actions="redundant"),
    "gridworld_switch": lambda: GridWorld(grid=4, cell=16, walls=(), switch=True),
    "digit_gridworld": lambda: DigitGridWorld("train"),
    "planar": lambda: PlanarSystem("disc"),
    "planar_y": lambda: PlanarSystem("cross"),
}



def available() -> list[str]:
    """The env names, sorted."""
    return sorted(_FACTORIES)


def describe(name: str) -> str:
    """One line about env ``name``: what ``disentax list`` says about it as a dataset."""
    return registry.describe(name)


def get_env(name: str) -> Env:
    """The env called ``name`` (see :func:`available`)."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown env {name!r}; allowed: {', '.join(available())}")
    return _FACTORIES[name]()
