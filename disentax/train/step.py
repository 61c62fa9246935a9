"""The train step, the one hot path: `train_step(state, batch, key) -> (state, metrics)`, pure,
and the `TrainState` it updates.

Every method with an optimiser builds its step here, so the gradient update is written once.
"""
from __future__ import annotations

import inspect
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
    """Build `train_step(state, batch, key, log=True) -> (state, metrics)` around one loss.

    - `loss_fn(params, batch, key, state) -> (loss, (aux, outputs))`: differentiated in `params`
      (the first argument); `state` is the pre-step state (its `step`, and `extra` networks, which
      the loss must put behind `stop_gradient` if it reads them). `aux` is a dict of metrics,
      `outputs` whatever `diagnostics` and `update_extra` read (the model outputs).
    - `diagnostics(outputs) -> dict`: gradient-free metrics (e.g. the ELBO decomposition). They are
      computed only when `log` is true (a traced bool: one compiled step serves both cases through
      `lax.cond`); otherwise their entries are NaN. The loop passes `log` true on the steps it logs,
      so a diagnostic that costs as much as the loss (O(B²D) estimators) is paid once per
      `log_every` steps, not every step. The new state never depends on `log`.
    - `update_extra(state, outputs, batch, key) -> (extra, metrics)`: updates further networks in
      `state.extra` from the pre-step state (simultaneous gradient descent, as FactorVAE's
      discriminator); the new `extra` goes into the new state.

    metrics = {"loss", **aux, "grad_norm", **extra metrics, **diagnostics}.
    """
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state: TrainState, batch, key, log=True):
        (loss, (aux, outputs)), grads = grad_fn(state.params, batch, key, state)
        metrics = {"loss": loss, **aux, "grad_norm": optax.tree.norm(grads)}
        changes = {}
        if update_extra is not None:
            changes["extra"], extra_metrics = update_extra(state, outputs, batch, key)
            metrics.update(extra_metrics)
        if diagnostics is not None:
            metrics.update(_when(log, diagnostics, jax.lax.stop_gradient(outputs)))
        return state.apply_gradients(tx, grads, **changes), metrics

    return train_step


def _when(flag, fn: Callable, x):
    """`fn(x)` if `flag`, else the same structure filled with NaN; a Python bool decides at trace time."""
    if isinstance(flag, bool):
        return fn(x) if flag else _nan_like(jax.eval_shape(fn, x))
    return jax.lax.cond(flag, fn, lambda x: _nan_like(jax.eval_shape(fn, x)), x)


def _nan_like(shapes):
    return jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)


def takes_log(train_step: Callable) -> bool:
    """True if `train_step` accepts the `log` flag of `make_train_step`'s steps (a plugin's own step
    may take only (state, batch, key); the loop then calls it that way and it computes everything)."""
    try:
        params = inspect.signature(train_step).parameters
    except (TypeError, ValueError):
        return False
    return "log" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


__all__ = ["TrainState", "make_train_step", "optimizer_update", "takes_log"]
