"""HFVAE (Esmaeili et al. (2019)): a Concrete group and a Gaussian group, two-level total correlation."""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import distributions as dist
from disentax import objectives, viz
from disentax.errors import ConfigError
from disentax.estimators import ConcreteGroup, GaussianGroup
from disentax.methods.common import gaussian_code, images_only
from disentax.methods.contract import Code, Hyperparameter, Method, MethodSpec, at_least, greater_than, one_of
from disentax.methods.registry import register
from disentax.methods.vae import TRAIN_ESTIMATORS, init_vae_state, vae_loss
from disentax.models.hfvae import build_concrete_gaussian_vae
from disentax.train.optim import make_optimizer
from disentax.train.step import make_train_step


def _groups(o, temperature):
    return [
        ConcreteGroup(log_y=o["log_y"], logits=o["logits"], temperature=temperature),
        GaussianGroup(z=o["z"], mu=o["mu"], logvar=o["logvar"]),
    ]


def _build(config, dataset) -> Method:
    hp = config.hfvae
    tau, k = float(hp.temperature), int(hp.num_categories)
    model = build_concrete_gaussian_vae(config.model, dataset.image_shape, k, tau)
    tx = make_optimizer(config.optimizer)
    kw = dict(dataset_size=int(dataset.num_examples), alpha=float(hp.alpha), beta=float(hp.beta),
              gamma=float(hp.gamma), estimator=str(hp.estimator), likelihood=config.model.likelihood)

    def objective(x, o, step):
        return objectives.hfvae(x, o["out"], _groups(o, tau), **kw)

    def encode_all(params, x):
        return model.apply({"params": params}, x, method=model.encode_all)

    def representation(params, x):
        logits, mu, _ = encode_all(params, x)
        return jnp.concatenate([mu, jax.nn.softmax(logits, axis=-1)], axis=-1)

    d = int(config.model.latent_dim)
    codes = {
        "all": Code(representation=representation, blocks=(("z", d), ("y", k)),
                    description="the Gaussian means μ(x), then the Concrete group's class probabilities softmax(logits)",
                    no_posterior="its Concrete group y holds class probabilities, not a Gaussian posterior "
                                 "(--code z scores the Gaussian group alone)"),
        "z": gaussian_code(lambda p, x: encode_all(p, x)[1:], (("z", d),), "the Gaussian group's means μ(x)"),
    }
    return Method(name=config.method, model=model, dataset=dataset,
                  init_state=lambda key, x: init_vae_state(model, tx, key, x),
                  train_step=make_train_step(vae_loss(model, objective), tx), sample_batch=images_only(dataset),
                  codes=codes, pictures=_pictures(config, dataset, model))


def _pictures(config, dataset, model):
    """reconstructions.png; traversals.png: one row per Gaussian latent (ordered by KL, the shape
    category fixed at the seed image's most likely one), then a row decoding each category."""
    likelihood, n = config.model.likelihood, int(config.num_viz_images)

    def pictures(params, key, workdir):
        k_data, k_enc = jax.random.split(key)
        x = dataset.sample(k_data, max(int(config.batch_size), n))[0]
        recon, outputs = viz.encode_decode(model, params, x, k_enc, likelihood)
        workdir = Path(workdir)
        paths = [viz.save_reconstructions(workdir / "reconstructions.png", x[:n], recon[:n])]

        kl = np.asarray(jnp.mean(dist.gaussian_kl(outputs["mu"], outputs["logvar"]), axis=0))
        order = np.argsort(-kl)
        logits, mu, _ = model.apply({"params": params}, x[:1], method=model.encode_all)
        k = logits.shape[-1]
        onehot = jax.nn.one_hot(jnp.argmax(logits[0]), k)
        values = jnp.linspace(-float(config.traversal_range), float(config.traversal_range), int(config.traversal_steps))
        z = jnp.broadcast_to(mu[0], (len(order), values.shape[0], mu.shape[-1]))
        z = z.at[jnp.arange(len(order))[:, None], jnp.arange(values.shape[0])[None, :],
                 jnp.asarray(order)[:, None]].set(values[None, :])
        codes = jnp.concatenate([jnp.broadcast_to(onehot, z.shape[:-1] + (k,)), z], axis=-1).reshape(-1, k + mu.shape[-1])
        cat_codes = jnp.concatenate([jnp.eye(k), jnp.broadcast_to(mu[0], (k, mu.shape[-1]))], axis=-1)
        out = model.apply({"params": params}, jnp.concatenate([codes, cat_codes]), method=model.decode)
        imgs = np.asarray(objectives.reconstruction_mean(out, likelihood))
        rows = [list(r) for r in imgs[: codes.shape[0]].reshape(len(order), values.shape[0], *imgs.shape[1:])]
        rows.append(list(imgs[codes.shape[0]:]))
        viz.image_grid(rows).save(workdir / "traversals.png")
        paths.append(workdir / "traversals.png")
        return paths

    return pictures


def _check(c):
    if int(c.batch_size) < 2:
        raise ConfigError(f"config.batch_size must be >= 2 for method 'hfvae' (its estimators need other batch "
                          f"members), got {c.batch_size}")


NONNEG = at_least(0)
HFVAE = register(MethodSpec(
    name="hfvae", build=_build, paper="Esmaeili et al. (2019)",
    summary="a Concrete and a Gaussian group; α·I(x; z) + β·TC between groups + γ·TC within them (Eq. 4)",
    hyperparameters=(
        Hyperparameter("alpha", 1.0, "weight of the mutual information I(x; z)", "Esmaeili et al. (2019), Table 3",
                       NONNEG),
        Hyperparameter("beta", 4.0, "weight of the total correlation between the groups",
                       "Esmaeili et al. (2019), Table 3 (dSprites)", NONNEG),
        Hyperparameter("gamma", 3.0, "weight of the total correlation within each group",
                       "Esmaeili et al. (2019), Table 3 (dSprites)", NONNEG),
        Hyperparameter("estimator", "hfvae", "estimator of log q(z): hfvae (the paper's Sec. 3.1), mws, mss",
                       "Esmaeili et al. (2019), Sec. 3.1", one_of(*TRAIN_ESTIMATORS)),
        Hyperparameter("num_categories", 3, "classes of the Concrete group", "Esmaeili et al. (2019), Table 2 "
                       "(dSprites: one 3-way group for the shape)", at_least(2)),
        Hyperparameter("temperature", 0.66, "Concrete temperature (also the prior's)",
                       "≈ 2/3, as Maddison et al. (2017) recommend", greater_than(0)),
    ),
    check=_check,
))
