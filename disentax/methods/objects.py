"""Object and information-placement methods: the Multi-Entity VAE (seed 003), its matched standard
VAE baseline, and the auxiliary-task VAE with and without clustering (seed 000).

Each registers a full `Method` builder (its own model, batch, step, representation and pictures).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from disentax import objectives
from disentax.methods import Method, need, register_method
from disentax.models.auxiliary import build_auxiliary_vae
from disentax.models.mvae import POOLINGS, build_mvae
from disentax.objectives.auxiliary import auxiliary_vae, auxiliary_vae_clustering, shuffle_patches
from disentax.objectives.multi_entity import multi_entity_elbo
from disentax.train.optim import make_optimizer
from disentax.train.state import TrainState
from disentax.train.step import init_vae_state, make_vae_train_step


def optimizer_with_annealing(config) -> optax.GradientTransformation:
    """`config.optimizer`, with the learning rate annealed exponentially from `learning_rate` to
    `config.lr_final` over `config.lr_decay_steps` steps when `lr_final > 0` (seed 003 App. A anneals
    1e-3 -> 1e-5 over 3e6 steps; the shape of the schedule is not given, log-linear is used)."""
    final = float(config.get("lr_final", 0.0) or 0.0)
    if final <= 0:
        return make_optimizer(config.optimizer)
    lr = float(config.optimizer.learning_rate)
    steps = int(config.get("lr_decay_steps", config.num_steps))
    schedule = optax.exponential_decay(lr, transition_steps=steps, decay_rate=final / lr, end_value=final)
    values = config.optimizer.to_dict()
    values["learning_rate"] = schedule
    return make_optimizer(_Namespace(values))


class _Namespace(dict):
    """Attribute access over a dict (make_optimizer reads attributes and .get)."""

    __getattr__ = dict.__getitem__


def make_train_step(tx: optax.GradientTransformation, loss_fn: Callable):
    """train_step(state, batch, key) for `loss_fn(params, batch, key, step) -> (loss, aux)`."""

    def train_step(state: TrainState, batch, key):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, key, state.step)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": loss, **aux, "grad_norm": optax.tree.norm(grads)}
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    return train_step


# ----------------------------------------------------------------------------- Multi-Entity VAE


def _check_mvae(c):
    from disentax.config import ConfigError

    need(c, "beta", lambda v: v >= 0, ">= 0")
    need(c, "lr_final", lambda v: v >= 0, ">= 0 (0 = constant learning rate)")
    for key in ("object_dim", "num_objects", "enc_channels", "enc_pools", "head_channels", "g_hidden", "map_shape",
                "g_channels", "h_channels", "pooling"):
        if key not in c.model:
            raise ConfigError(f"config.model.{key} is required by method {c.method!r}")
    if c.model.pooling not in POOLINGS:
        raise ConfigError(f"config.model.pooling must be one of {list(POOLINGS)}, got {c.model.pooling!r}")
    if c.model.likelihood != "bernoulli":
        raise ConfigError(f"config.model.likelihood must be 'bernoulli' for {c.method!r} (seed 003), got {c.model.likelihood!r}")
    if len(c.model.enc_channels) != len(c.model.enc_pools):
        raise ConfigError("config.model.enc_channels and config.model.enc_pools must have the same length")
    if int(c.model.num_objects) < 1 or int(c.model.object_dim) < 1:
        raise ConfigError("config.model.num_objects and config.model.object_dim must be positive integers")


@register_method("mvae", validator=_check_mvae)
def _mvae(config, image_shape) -> Method:
    model = build_mvae(config.model, image_shape)
    tx = optimizer_with_annealing(config)
    beta, likelihood = float(config.beta), config.model.likelihood

    def objective(x, o, step):
        return multi_entity_elbo(x, o["out"], o["mu"], o["logvar"], likelihood=likelihood, beta=beta)

    def loss_fn(params, x, key, step):
        o = model.apply({"params": params}, x, key)
        loss, aux = objective(x, o, step)
        # How peaked the attention is: share of the whole map's KL that the N chosen cells hold.
        aux["kl_selected_share"] = jax.lax.stop_gradient(o["kl"].sum(-1) / (o["kl_map"].sum(-1) + 1e-8)).mean()
        return loss, aux

    def init_state(key, x):
        k_init, k_sample = jax.random.split(key)
        params = jax.jit(model.init)(k_init, x, k_sample)["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), extra={})

    def representation(params, x):
        """Selected object means in descending KL order, flattened: [B, N * D]."""
        mu = model.apply({"params": params}, x, method=model.encode)[0]
        return mu.reshape(mu.shape[0], -1)

    def write_pictures(config, workdir, method, dataset, params, key):
        from disentax.evaluation.objects import write_mvae_pictures

        return write_mvae_pictures(config, workdir, method.model, dataset, params, key)

    return Method(
        name=config.method, model=model, tx=tx, init_state=init_state, train_step=make_train_step(tx, loss_fn),
        objective=objective, representation=representation, write_pictures=write_pictures,
    )


@register_method("mvae_baseline", validator=_check_mvae)
def _mvae_baseline(config, image_shape) -> Method:
    """Seed 003 App. A standard VAE: MVAE encoder -> linear -> `model.latent_dim` (60) Gaussian, g then h."""
    model = build_mvae(config.model, image_shape, flat=True)
    tx = optimizer_with_annealing(config)
    beta, likelihood = float(config.beta), config.model.likelihood

    def objective(x, o, step):
        return objectives.beta_vae(x, o["out"], o["mu"], o["logvar"], beta=beta, likelihood=likelihood)

    def representation(params, x):
        return model.apply({"params": params}, x, method=model.encode)[0]

    return Method(
        name=config.method, model=model, tx=tx, init_state=jax.jit(lambda key, x: init_vae_state(model, tx, key, x)),
        train_step=make_vae_train_step(model, tx, objective), objective=objective, representation=representation,
    )


# ------------------------------------------------------------------------ auxiliary-task VAE


def _check_auxiliary(c):
    from disentax.config import ConfigError

    need(c, "beta", lambda v: v >= 0, ">= 0")
    need(c, "patch", lambda v: int(v) >= 1, "a positive patch size in pixels")
    need(c, "global_dim", lambda v: int(v) >= 1, ">= 1")
    need(c, "local_dim", lambda v: int(v) >= 1, ">= 1")
    if c.model.likelihood != "logistic":
        raise ConfigError(f"config.model.likelihood must be 'logistic' for {c.method!r} (seed 000), got {c.model.likelihood!r}")


def _check_auxiliary_clustering(c):
    _check_auxiliary(c)
    need(c, "num_clusters", lambda v: int(v) >= 2, ">= 2")
    need(c, "temperature", lambda v: v > 0, "> 0")


def _auxiliary_common(config, image_shape, clustering: bool) -> Method:
    h, w = image_shape[0], image_shape[1]
    patch = int(config.patch)
    if h % patch or w % patch:
        from disentax.config import ConfigError

        raise ConfigError(f"config.patch={patch} must divide the image size {h}x{w}")
    model = build_auxiliary_vae(config, image_shape)
    tx = make_optimizer(config.optimizer)
    beta, likelihood = float(config.beta), config.model.likelihood

    def sample_batch(dataset, key, batch_size):
        k_data, k_shuffle = jax.random.split(key)
        x = dataset.sample(k_data, batch_size)[0]
        return {"x": x, "x_shuffled": shuffle_patches(k_shuffle, x, patch)}

    def objective(batch, o, step):
        args = (batch["x"], batch["x_shuffled"], o["out"], o["out_aux"], o["mu_g"], o["logvar_g"], o["mu_l"], o["logvar_l"])
        if clustering:
            return auxiliary_vae_clustering(*args, o["y_logits"], o["prior_mu_g"], o["prior_logvar_g"], beta=beta,
                                            likelihood=likelihood)
        return auxiliary_vae(*args, beta=beta, likelihood=likelihood)

    def loss_fn(params, batch, key, step):
        o = model.apply({"params": params}, batch["x"], batch["x_shuffled"], key)
        return objective(batch, o, step)

    def init_state(key, batch):
        k_init, k_sample = jax.random.split(key)
        params = jax.jit(model.init)(k_init, batch["x"], batch["x_shuffled"], k_sample)["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), extra={})

    def representation(params, x):
        """[mu_g(x), mu_l(x~)] with x~ shuffled by a fixed key, so the codes are deterministic."""
        mu_g = model.apply({"params": params}, x, method=model.encode_global)[0]
        x_t = shuffle_patches(jax.random.PRNGKey(0), x, patch)
        mu_l = model.apply({"params": params}, x_t, method=model.encode_local)[0]
        return jnp.concatenate([mu_g, mu_l], axis=-1)

    def write_pictures(config, workdir, method, dataset, params, key):
        from disentax.evaluation.information_placement import write_auxiliary_pictures

        return write_auxiliary_pictures(config, workdir, method, dataset, params, key)

    return Method(
        name=config.method, model=model, tx=tx, init_state=init_state, train_step=make_train_step(tx, loss_fn),
        objective=objective, sample_batch=sample_batch, representation=representation, write_pictures=write_pictures,
    )


@register_method("auxiliary_vae", validator=_check_auxiliary)
def _auxiliary_vae(config, image_shape) -> Method:
    return _auxiliary_common(config, image_shape, clustering=False)


@register_method("auxiliary_vae_clustering", validator=_check_auxiliary_clustering)
def _auxiliary_vae_clustering(config, image_shape) -> Method:
    return _auxiliary_common(config, image_shape, clustering=True)
