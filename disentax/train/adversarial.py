"""The adversarial train step: a generator and its critics, alternating updates in one jitted step.

A step makes `critic_steps` critic updates, then one generator update against the updated critics
(Goodfellow et al. (2014), Alg. 1; Arjovsky et al. (2017), Alg. 1 with n_critic = 5). Several
critics (MoCoGAN's image and video discriminators, say) are one dict of networks: each has its own
parameters, optax optimiser and state, updated from the same critic loss (the sum of their losses;
their parameters are disjoint, so each gets exactly its own gradient).

State layout (a `TrainState`, so the loop, the checkpoints and the sharding treat a GAN like any
other method):

- `params` / `opt_state`: the generator's (what `Method.pictures` and `Method.evaluations` get);
- `extra["model_state"]`: the generator's non-trained variables (Flax `batch_stats`; `{}` if none);
- `extra["critics"]`: {name: {"params", "opt_state", "model_state"}} for each critic.

Batch-norm statistics: a network's running averages move only in its own update. The critic pass
of the generator update and the fakes drawn for the critic updates use batch statistics (train
mode) but their running-average updates are dropped, so the running averages of each network are
those of the batches it trained on, once per update, whatever `critic_steps` is.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import optax

from disentax.train.step import TrainState, optimizer_update

__all__ = ["Critics", "apply_network", "init_adversarial_state", "make_adversarial_step", "variables"]


def variables(params, model_state) -> dict:
    """The Flax variables of a network: {"params": params, **model_state} (e.g. "batch_stats")."""
    return {"params": params, **model_state}


def apply_network(module, params, model_state, *args, train: bool, method: str | None = None):
    """`(output, model_state)` of a Flax module (or of its method called `method`). In train mode
    batch norm uses the batch's statistics and the returned state holds the updated running averages
    (the caller keeps or drops them); in inference mode the state comes back unchanged. A network
    without batch norm has state {}."""
    kwargs = {} if method is None else {"method": method}
    if train:
        out, new = module.apply(variables(params, model_state), *args, train=True, mutable=["batch_stats"], **kwargs)
        return out, dict(new)
    return module.apply(variables(params, model_state), *args, train=False, **kwargs), model_state


@dataclasses.dataclass(frozen=True)
class Critics:
    """The critics of a game: one optax optimiser per named critic."""

    optimizers: Mapping[str, optax.GradientTransformation]

    def __post_init__(self):
        if not self.optimizers:
            raise ValueError("an adversarial step needs at least one critic")


def init_adversarial_state(gen_variables: dict, tx: optax.GradientTransformation, critic_variables: Mapping[str, dict],
                           critics: Critics, **extra) -> TrainState:
    """Step 0 from the Flax variables of the generator and of each critic (as `Module.init` returns
    them), each network's optimiser initialised on its parameters; `extra` adds further arrays."""
    if set(critic_variables) != set(critics.optimizers):
        raise ValueError(f"critic variables {sorted(critic_variables)} do not match the critics' optimisers "
                         f"{sorted(critics.optimizers)}")
    gen_params, gen_state = _split(gen_variables)
    held = {}
    for name, v in critic_variables.items():
        p, s = _split(v)
        held[name] = {"params": p, "opt_state": critics.optimizers[name].init(p), "model_state": s}
    return TrainState.create(gen_params, tx, model_state=gen_state, critics=held, **extra)


def _split(v: dict):
    v = dict(v)
    return v.pop("params"), v


def make_adversarial_step(generator_loss: Callable, critic_loss: Callable, tx: optax.GradientTransformation,
                          critics: Critics, *, critic_steps: int = 1, unroll: bool = False) -> Callable:
    """Build `train_step(state, batch, key, log=True) -> (state, metrics)` of a two-player game.

    - `critic_loss(critic_params, critic_state, gen_params, gen_state, batch, key, k) -> (loss, (aux,
      critic_state))`: differentiated in `critic_params` ({name: params}); `k` is the index of this
      critic update within the step (a traced int under `lax.fori_loop`), so a batch may hold one
      real minibatch per update on a leading axis. The generator enters behind `stop_gradient`.
    - `generator_loss(gen_params, gen_state, critic_params, critic_state, batch, key) -> (loss, (aux,
      gen_state))`: differentiated in `gen_params`, against the critics after this step's updates.

    Each update gets its own key (`fold_in` of the step key); the critic updates run in
    `lax.fori_loop` unless `unroll` (a Python loop over the static count: the same numbers on one
    device).

    metrics = {"loss": the generator loss, **generator aux, "grad_norm", "critic_loss": mean over the
    step's critic updates, "critic_<name>" for each critic aux (means, each measured before its own
    update), "critic_grad_norm"}. `log` is accepted for the loop and changes nothing.
    """
    critic_steps = int(critic_steps)
    if critic_steps < 1:
        raise ValueError(f"critic_steps must be >= 1, got {critic_steps}")
    critic_grad = jax.value_and_grad(critic_loss, has_aux=True)
    gen_grad = jax.value_and_grad(generator_loss, has_aux=True)

    def critic_pass(held, gen_params, gen_state, batch, key, k):
        """(metrics, new model states, gradients) of critic update k, before it is applied."""
        params = {n: c["params"] for n, c in held.items()}
        states = {n: c["model_state"] for n, c in held.items()}
        (loss, (aux, new_states)), grads = critic_grad(params, states, jax.lax.stop_gradient(gen_params), gen_state,
                                                       batch, jax.random.fold_in(key, k), k)
        return _critic_metrics(loss, aux, grads), new_states, grads

    def critic_update(k, carry, gen_params, gen_state, batch, key):
        held, sums = carry
        measured, new_states, grads = critic_pass(held, gen_params, gen_state, batch, key, k)
        new = {}
        for n, c in held.items():
            p, o = optimizer_update(critics.optimizers[n], grads[n], c["params"], c["opt_state"])
            new[n] = {"params": p, "opt_state": o, "model_state": new_states[n]}
        sums = jax.tree.map(lambda s, m: s + m, sums, measured)
        return new, sums

    def train_step(state: TrainState, batch, key, log=True):
        del log  # nothing in this step is a diagnostic
        k_critic, k_gen = jax.random.split(key)
        gen_params, gen_state = state.params, state.extra["model_state"]
        held = state.extra["critics"]
        # The sums start from zeros shaped like one update's metrics (traced, not run).
        shapes = jax.eval_shape(lambda h, b: critic_pass(h, gen_params, gen_state, b, k_critic, 0)[0], held, batch)
        sums = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        body = lambda k, c: critic_update(k, c, gen_params, gen_state, batch, k_critic)  # noqa: E731
        carry = (held, sums)
        # On XLA:CPU the loop costs time: the dcgan step at width 32, batch 32 took 2.1 s with
        # fori_loop and 0.16 s unrolled. Unrolling is not the default, though: unrolled, dcgan's
        # 8-device step differs from its 1-device step by 3.6e-4 (relative) in one metric, above
        # tests/multidevice's tolerance (open).
        if unroll:
            for k in range(critic_steps):
                carry = body(k, carry)
        else:
            carry = jax.lax.fori_loop(0, critic_steps, body, carry)
        held, sums = carry
        critic_metrics = jax.tree.map(lambda s: s / critic_steps, sums)

        params = {n: c["params"] for n, c in held.items()}
        states = {n: c["model_state"] for n, c in held.items()}
        (loss, (aux, new_gen_state)), grads = gen_grad(gen_params, gen_state, jax.lax.stop_gradient(params), states,
                                                       batch, k_gen)
        metrics = {"loss": loss, **aux, "grad_norm": optax.tree.norm(grads), **critic_metrics}
        extra = {**state.extra, "model_state": new_gen_state, "critics": held}
        return state.apply_gradients(tx, grads, extra=extra), metrics

    return train_step


def _critic_metrics(loss, aux, grads) -> dict:
    # The critic's aux under `critic_` names: both players may report a quantity of one name (the
    # mean D(G(z)), say), measured at different parameters.
    return {"critic_loss": loss, **{f"critic_{k}": v for k, v in aux.items()}, "critic_grad_norm": optax.tree.norm(grads)}
