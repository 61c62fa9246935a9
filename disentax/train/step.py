"""The train step: the one hot path. Pure: (state, batch, key) -> (state, metrics)."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from disentax.train.state import TrainState


def make_vae_train_step(model, tx: optax.GradientTransformation, objective: Callable, diagnostics: Callable | None = None):
    """Build `train_step(state, x, key)` for a single-network VAE method.

    `objective(x, outputs, step) -> (loss, aux)` receives the model outputs
    (`mu`, `logvar`, `z`, `out`); `diagnostics(outputs) -> dict`, if given, adds
    gradient-free quantities to the metrics (e.g. the ELBO decomposition).
    """

    def loss_fn(params, x, key, step):
        outputs = model.apply({"params": params}, x, key)
        loss, aux = objective(x, outputs, step)
        return loss, (aux, outputs)

    def train_step(state: TrainState, x, key):
        (loss, (aux, outputs)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, x, key, state.step
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": loss, **aux, "grad_norm": optax.tree.norm(grads)}
        if diagnostics is not None:
            metrics.update(jax.lax.stop_gradient(diagnostics(outputs)))
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
        return new_state, metrics

    return train_step


def init_vae_state(model, tx: optax.GradientTransformation, key, x) -> TrainState:
    """Initialise parameters from `key` on an example batch `x` and the optimiser state."""
    init_key, sample_key = jax.random.split(key)
    params = model.init(init_key, x, sample_key)["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), extra={})
