"""The training state: a pytree of arrays only, so it can be jitted, donated and checkpointed."""
from __future__ import annotations

from typing import Any

import flax.struct
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
    """step: int32 scalar; params: the trained network's parameters; opt_state: its optax state;
    extra: a dict for further networks and their optimiser states (e.g. a discriminator)."""

    step: jnp.ndarray
    params: Any
    opt_state: Any
    extra: Any = flax.struct.field(default_factory=dict)

    @classmethod
    def create(cls, params, tx: optax.GradientTransformation, **extra) -> TrainState:
        """Step 0, `params`, `tx`'s initial state for them, and any further arrays in `extra`."""
        return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), extra=dict(extra))

    def apply_gradients(self, tx: optax.GradientTransformation, grads, **changes) -> TrainState:
        """One optimiser update of `params` with `grads`; the step advances by one.

        `changes` replaces other fields in the same new state (e.g. `extra` after a critic update).
        """
        updates, opt_state = tx.update(grads, self.opt_state, self.params)
        params = optax.apply_updates(self.params, updates)
        return self.replace(step=self.step + 1, params=params, opt_state=opt_state, **changes)
