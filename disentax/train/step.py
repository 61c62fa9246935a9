"""The train step, the one hot path: `train_step(state, batch, key) -> (state, metrics)`, pure.

Every method with an optimiser builds its step here, so the gradient update is written once.
"""
from __future__ import annotations

from typing import Callable

import jax
import optax

from disentax.train.state import TrainState


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


__all__ = ["make_train_step"]
