"""The train step, the one hot path: `train_step(state, batch, key) -> (state, metrics)`, pure,
and the `TrainState` it updates.

Every method with an optimiser builds its step here, so the gradient update is written once.
"""
from __future__ import annotations

from typing import Any, Callable

import flax.struct
import jax
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
        params, opt_state = optimizer_update(tx, grads, self.params, self.opt_state)
        return self.replace(step=self.step + 1, params=params, opt_state=opt_state, **changes)


def optimizer_update(tx: optax.GradientTransformation, grads, params, opt_state):
    """(params, opt_state) after one `tx` update with `grads`: the one place an update is applied
    (TrainState.apply_gradients, and networks held in `TrainState.extra` such as a critic)."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state



def make_train_step(loss_fn: Callable, tx: optax.GradientTransformation, *, diagnostics: Callable | None = None,
                    update_extra: Callable | None = None) -> Callable:
    """Build `train_step(state, batch, key) -> (state, metrics)` around one loss.

    - `loss_fn(params, batch, key, state) -> (loss, (aux, outputs))`: differentiated in `params`
      (the first argument); `state` is the pre-step state (its `step`, and `extra` networks, which
      the loss must put behind `stop_gradient` if it reads them). `aux` is a dict of metrics,
      `outputs` whatever `diagnostics` and `update_extra` read (the model outputs).
    - `diagnostics(outputs) -> dict`: gradient-free metrics (e.g. the ELBO decomposition).
    - `update_extra(state, outputs, batch, key) -> (extra, metrics)`: updates further networks in
      `state.extra` from the pre-step state (simultaneous gradient descent, as FactorVAE's
      discriminator); the new `extra` goes into the new state.

    metrics = {"loss", **aux, "grad_norm", **extra metrics, **diagnostics}.
    """
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state: TrainState, batch, key):
        (loss, (aux, outputs)), grads = grad_fn(state.params, batch, key, state)
        metrics = {"loss": loss, **aux, "grad_norm": optax.tree.norm(grads)}
        changes = {}
        if update_extra is not None:
            changes["extra"], extra_metrics = update_extra(state, outputs, batch, key)
            metrics.update(extra_metrics)
        if diagnostics is not None:
            metrics.update(jax.lax.stop_gradient(diagnostics(outputs)))
        return state.apply_gradients(tx, grads, **changes), metrics

    return train_step


__all__ = ["TrainState", "make_train_step", "optimizer_update"]
