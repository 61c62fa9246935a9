"""The training state: a pytree of arrays only, so it can be jitted, donated and checkpointed."""
from __future__ import annotations

from typing import Any

import flax.struct
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
    """step: int32 scalar; params: the VAE's parameters; opt_state: its optax state;
    extra: a dict for further networks and their optimiser states (e.g. a discriminator)."""

    step: jnp.ndarray
    params: Any
    opt_state: Any
    extra: Any = flax.struct.field(default_factory=dict)
