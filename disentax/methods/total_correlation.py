"""β-TCVAE, HFVAE and DIP-VAE-I/II as registered methods, and the decomposition diagnostics
every single-network VAE logs (mutual information, total correlation, dimension-wise KL)."""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import estimators, objectives, viz
from disentax.estimators import ConcreteGroup, GaussianGroup
from disentax.methods import Method, need, register_method, register_objective
from disentax.models.hfvae import build_concrete_gaussian_vae
from disentax.objectives.dip import dip_vae
from disentax.objectives.total_correlation import beta_tcvae, hfvae
from disentax.train.optim import make_optimizer
from disentax.train.step import init_vae_state, make_vae_train_step

TRAIN_ESTIMATORS = ("mws", "mss", "hfvae")  # "exact" needs the whole dataset in one batch


def dataset_size(config) -> int:
    """N of `config.dataset` (what the q(z) estimators divide by)."""
    from disentax.data.registry import get_dataset

    return int(get_dataset(config.dataset).num_examples)


# The estimator of the logged decomposition. Not "mws": with its published constant −log(N·B)
# the logged TC reads (D − 1)·log N too high (≈ 122 nats for a collapsed 10-d posterior on
# dSprites) and the dimension-wise KL D·log N too low; the hfvae weights sum to 1, estimate
# q(z) without bias at the density level and equal the exact mixture when B = N.
DIAGNOSTICS_ESTIMATOR = "hfvae"


def decomposition_diagnostics(config, estimator: str | None = None):
    """`diagnostics(outputs) -> {mutual_info, total_correlation, dimwise_kl}` for `config`'s dataset.

    The default of `build_vae_method`; custom train steps call it on their encoder outputs
    (a dict with `z`, `mu`, `logvar`) and merge the result into their metrics. The estimator is
    `config.estimator` when the method has one (β-TCVAE: the logged terms are then those it
    optimises), else `DIAGNOSTICS_ESTIMATOR`; with a batch of 1, "mws".
    """
    if estimator is None:
        estimator = config.get("estimator", DIAGNOSTICS_ESTIMATOR)
        if estimator not in TRAIN_ESTIMATORS:
            estimator = DIAGNOSTICS_ESTIMATOR
        if int(config.batch_size) < 2:
            estimator = "mws"
    return estimators.make_decomposition_diagnostics(dataset_size(config), estimator)


def _nonneg(c, key):
    need(c, key, lambda v: float(v) >= 0, ">= 0")


def _check_tcvae(c):
    for k in ("alpha", "beta", "gamma"):
        _nonneg(c, k)
    need(c, "estimator", lambda v: v in TRAIN_ESTIMATORS, f"one of {', '.join(TRAIN_ESTIMATORS)}")
    need(c, "batch_size", lambda v: v >= 2 or c.estimator == "mws", ">= 2 for the mss and hfvae estimators")


@register_objective("beta_tcvae", validator=_check_tcvae)
def _beta_tcvae(config):
    kw = dict(
        dataset_size=dataset_size(config), alpha=float(config.alpha), beta=float(config.beta),
        gamma=float(config.gamma), estimator=str(config.estimator), likelihood=config.model.likelihood,
    )

    def objective(x, o, step):
        return beta_tcvae(x, o["out"], o["z"], o["mu"], o["logvar"], **kw)

    return objective


def _check_dip(c):
    _nonneg(c, "lambda_od")
    _nonneg(c, "lambda_d")


def _dip_builder(variant):
    def build(config):
        kw = dict(lambda_od=float(config.lambda_od), lambda_d=float(config.lambda_d), variant=variant,
                  likelihood=config.model.likelihood)

        def objective(x, o, step):
            return dip_vae(x, o["out"], o["mu"], o["logvar"], **kw)

        return objective

    return build


register_objective("dip_vae_i", validator=_check_dip)(_dip_builder("i"))
register_objective("dip_vae_ii", validator=_check_dip)(_dip_builder("ii"))


# ----------------------------------------------------------------------------- HFVAE


def _check_hfvae(c):
    for k in ("alpha", "beta", "gamma"):
        _nonneg(c, k)
    need(c, "estimator", lambda v: v in TRAIN_ESTIMATORS, f"one of {', '.join(TRAIN_ESTIMATORS)}")
    need(c, "num_categories", lambda v: int(v) >= 2, "an integer >= 2")
    need(c, "temperature", lambda v: float(v) > 0, "> 0")
    need(c, "batch_size", lambda v: v >= 2, ">= 2 (the estimators need other batch members)")


def _hfvae_groups(o, temperature):
    return [
        ConcreteGroup(log_y=o["log_y"], logits=o["logits"], temperature=temperature),
        GaussianGroup(z=o["z"], mu=o["mu"], logvar=o["logvar"]),
    ]


@register_method("hfvae", validator=_check_hfvae)
def _build_hfvae(config, image_shape) -> Method:
    model = build_concrete_gaussian_vae(config.model, image_shape, int(config.num_categories), float(config.temperature))
    tx = make_optimizer(config.optimizer)
    tau = float(config.temperature)
    kw = dict(
        dataset_size=dataset_size(config), alpha=float(config.alpha), beta=float(config.beta),
        gamma=float(config.gamma), estimator=str(config.estimator), likelihood=config.model.likelihood,
    )

    def objective(x, o, step):
        return hfvae(x, o["out"], _hfvae_groups(o, tau), **kw)

    def representation(params, x):
        logits, mu, _ = model.apply({"params": params}, x, method=model.encode_all)
        return jnp.concatenate([mu, jax.nn.softmax(logits, axis=-1)], axis=-1)

    return Method(
        name=config.method,
        model=model,
        tx=tx,
        init_state=lambda key, x: init_vae_state(model, tx, key, x),
        train_step=make_vae_train_step(model, tx, objective),
        objective=objective,
        representation=representation,
        write_pictures=_hfvae_pictures,
    )


def _hfvae_pictures(config, workdir, method, dataset, params, key):
    """reconstructions.png; traversals.png: one row per Gaussian latent (ordered by KL, the shape
    category fixed at the seed image's most likely one), then a row decoding each category."""
    from disentax import distributions as dist

    model = method.model
    k_data, k_enc = jax.random.split(key)
    x = dataset.sample(k_data, max(int(config.batch_size), int(config.num_viz_images)))[0]
    recon, outputs = viz.encode_decode(model, params, x, k_enc, config.model.likelihood)
    n = int(config.num_viz_images)
    workdir = Path(workdir)
    paths = [viz.save_reconstructions(workdir / "reconstructions.png", x[:n], recon[:n])]

    kl = np.asarray(jnp.mean(dist.gaussian_kl(outputs["mu"], outputs["logvar"]), axis=0))
    order = np.argsort(-kl)
    logits, mu, _ = model.apply({"params": params}, x[:1], method=model.encode_all)
    k = logits.shape[-1]
    onehot = jax.nn.one_hot(jnp.argmax(logits[0]), k)
    values = jnp.linspace(-float(config.traversal_range), float(config.traversal_range), int(config.traversal_steps))
    z = jnp.broadcast_to(mu[0], (len(order), values.shape[0], mu.shape[-1]))
    z = z.at[jnp.arange(len(order))[:, None], jnp.arange(values.shape[0])[None, :], jnp.asarray(order)[:, None]].set(values[None, :])
    codes = jnp.concatenate([jnp.broadcast_to(onehot, z.shape[:-1] + (k,)), z], axis=-1).reshape(-1, k + mu.shape[-1])
    cat_codes = jnp.concatenate([jnp.eye(k), jnp.broadcast_to(mu[0], (k, mu.shape[-1]))], axis=-1)
    imgs = objectives.reconstruction_mean(model.apply({"params": params}, jnp.concatenate([codes, cat_codes]), method=model.decode),
                                          config.model.likelihood)
    imgs = np.asarray(imgs)
    rows = [list(r) for r in imgs[: codes.shape[0]].reshape(len(order), values.shape[0], *imgs.shape[1:])]
    rows.append(list(imgs[codes.shape[0]:]))
    viz.image_grid(rows).save(workdir / "traversals.png")
    paths.append(workdir / "traversals.png")
    return paths
