"""The semi-supervised structured VAE (Siddharth et al. (2017)): q(y|x) q(z|x,y), p(x|y,z).

Batches are {"x", "labels", "supervised"} (and "targets" with regressed latents): each is wholly
labelled (probability `supervision_rate`, drawn from a labelled set of exactly `labels_per_class`
images per class fixed by `labelled_seed`) or wholly unlabelled, and one jitted step reads the
traced flag to use Eq. 4 or Eq. 2.

Codes scored: "all" = [class probabilities ρ(x), (means of q(c|x)), style means μ(x, ρ)], and the
Gaussian parts alone: "z" (the style, q(z|x, ρ) with the plug-in ρ) and, with regressed latents, "c".
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import viz
from disentax.data.labelled import label_classes, labelled_indices, regression_columns, semi_supervised_sampler
from disentax.errors import ConfigError
from disentax.methods.common import gaussian_code
from disentax.methods.contract import Check, Code, Hyperparameter, Method, MethodSpec, at_least, between, greater_than
from disentax.methods.registry import need, register
from disentax.models.structured import build_structured_vae
from disentax.objectives import semi_supervised as ss_obj
from disentax.objectives.elbo import reconstruction_mean
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step


def _build(config, dataset) -> Method:
    hp = config.semi_supervised
    try:
        column, num_classes = label_classes(dataset, hp.label_factor)
        regressed = regression_columns(dataset, tuple(hp.regression_factors), hp.label_factor)
    except ValueError as e:
        raise ConfigError(f"config.semi_supervised: {e}") from None
    estimator, temperature = str(hp.estimator), float(hp.temperature)
    alpha, likelihood = float(hp.alpha), config.model.likelihood
    model = build_structured_vae(config.model, dataset.image_shape, num_classes, estimator=estimator,
                                 temperature=temperature, num_regressed=len(regressed))
    tx = make_optimizer(config.optimizer)
    labelled = labelled_indices(dataset, column, int(hp.labels_per_class), int(hp.labelled_seed))
    sampler = semi_supervised_sampler(column, labelled, float(hp.supervision_rate), regression=regressed)

    def targets(batch):  # extra model inputs; none without regressed latents (the call is unchanged)
        return {"targets": batch["targets"]} if regressed else {}

    def init_state(key, batch):
        k_init, k_fwd = jax.random.split(key)
        params = model.init(k_init, batch["x"], k_fwd, batch["labels"], batch["supervised"], **targets(batch))["params"]
        return TrainState.create(params, tx)

    def loss_fn(params, batch, key, state):
        o = model.apply({"params": params}, batch["x"], key, batch["labels"], batch["supervised"], **targets(batch))
        extra = {"c_mu": o["c_mu"], "c_logvar": o["c_logvar"], "c_target": batch["targets"]} if regressed else {}
        loss, aux = ss_obj.semi_supervised_vae(batch["x"], o["out"], o["mu"], o["logvar"], o["y_logits"],
                                               batch["labels"], batch["supervised"], estimator=estimator,
                                               log_y=o["log_y"], temperature=temperature, alpha=alpha,
                                               likelihood=likelihood, **extra)
        return loss, (aux, None)

    def encode(params, x):  # (logits, μ_z, logvar_z) with the plug-in ρ fed to the style encoder
        return model.apply({"params": params}, x, method=model.encode)

    def regress(params, x):  # (mean, logvar) of q(c|x)
        return model.apply({"params": params}, x, method=model.regress)

    def representation(params, x):
        logits, mu, _ = encode(params, x)
        parts = [jax.nn.softmax(logits, -1)] + ([regress(params, x)[0]] if regressed else []) + [mu]
        return jnp.concatenate(parts, -1)

    d, r = int(config.model.latent_dim), len(regressed)
    blocks = (("y", num_classes),) + ((("c", r),) if r else ()) + (("z", d),)
    codes = {
        "all": Code(representation=representation, blocks=blocks,
                    description="class probabilities ρ(x) of q(y|x), " + ("means of q(c|x), " if r else "")
                                + "style means μ(x, ρ) of q(z|x, y = ρ)",
                    no_posterior="its class block y holds the probabilities of q(y|x), not a Gaussian posterior "
                                 "(--code z scores the style alone)"),
        "z": gaussian_code(lambda p, x: encode(p, x)[1:], (("z", d),), "style means μ(x, ρ) of q(z|x, y = ρ)"),
    }
    if r:
        codes["c"] = gaussian_code(regress, (("c", r),), "means of q(c|x), the regressed latents (standardised)")
    return Method(name=config.method, model=model, dataset=dataset, init_state=init_state,
                  train_step=make_train_step(loss_fn, tx), sample_batch=functools.partial(sampler, dataset),
                  codes=codes, pictures=_pictures(config, dataset, model))


def analogy_images(model, params, x, likelihood: str):
    """Visual analogies (Siddharth et al. (2017), Fig. 4a): per input, its reconstruction, then its
    inferred style z = μ(x, ŷ) (ŷ the predicted class, one-hot) decoded with every class y.

    Returns [N, 2 + K, H, W, C]: input, reconstruction, one image per class.
    """
    logits = model.apply({"params": params}, x, method=model.classify)
    k = logits.shape[-1]
    y_hat = jax.nn.one_hot(jnp.argmax(logits, -1), k)
    _, mu, _ = model.apply({"params": params}, x, y_hat, method=model.encode)
    # Regressed latents (if any) stay at the mean of q(c|x), with the style.
    c = model.apply({"params": params}, x, method=model.regress)[0] if model.num_regressed else None
    recon = reconstruction_mean(model.apply({"params": params}, y_hat, mu, c, method=model.decode), likelihood)
    ys = jnp.repeat(jnp.eye(k)[None], x.shape[0], 0).reshape(-1, k)
    zs = jnp.repeat(mu, k, 0)
    cs = None if c is None else jnp.repeat(c, k, 0)
    varied = reconstruction_mean(model.apply({"params": params}, ys, zs, cs, method=model.decode), likelihood)
    varied = varied.reshape(x.shape[0], k, *x.shape[1:])
    return jnp.concatenate([x[:, None], recon[:, None], varied], 1)


def regression_traversal_images(model, params, x, likelihood: str, steps: int = 9, limit: float = 2.0):
    """Per input and regressed latent r: its reconstruction with c_r swept over `steps` values in
    [−limit, limit] (standardised units), the class fixed at ŷ, the style at z = μ(x, ŷ, m(x)) and
    the other regressed latents at their means. Returns [R, N, 1 + steps, H, W, C] (input first)."""
    logits = model.apply({"params": params}, x, method=model.classify)
    y_hat = jax.nn.one_hot(jnp.argmax(logits, -1), logits.shape[-1])
    c_mu, _ = model.apply({"params": params}, x, method=model.regress)
    _, mu, _ = model.apply({"params": params}, x, y_hat, c_mu, method=model.encode)
    n, r = x.shape[0], c_mu.shape[-1]
    values = jnp.linspace(-limit, limit, steps)
    rows = []
    for d in range(r):
        cs = jnp.repeat(c_mu, steps, 0).at[:, d].set(jnp.tile(values, n))
        out = model.apply({"params": params}, jnp.repeat(y_hat, steps, 0), jnp.repeat(mu, steps, 0), cs,
                          method=model.decode)
        imgs = reconstruction_mean(out, likelihood).reshape(n, steps, *x.shape[1:])
        rows.append(jnp.concatenate([x[:, None], imgs], 1))
    return jnp.stack(rows)


def _pictures(config, dataset, model):
    """analogies.png, reconstructions.png and, with regressed latents, regression_traversal.png."""
    n, lik = int(config.num_viz_images), config.model.likelihood

    def pictures(params, key, workdir):
        if getattr(dataset, "on_host", False):  # read on the host, outside jit
            x = jnp.asarray(dataset.sample(key, n)[0])
            imgs = np.asarray(jax.jit(lambda p, x: analogy_images(model, p, x, lik))(params, x))
        else:
            imgs = np.asarray(jax.jit(lambda p, k: analogy_images(model, p, dataset.sample(k, n)[0], lik))(params, key))
        path = Path(workdir) / "analogies.png"
        viz.image_grid([list(r) for r in imgs]).save(path)
        recon = Path(workdir) / "reconstructions.png"
        viz.save_reconstructions(recon, imgs[:, 0], imgs[:, 1])
        if not model.num_regressed:
            return [path, recon]
        # The regressed latents, one block of rows each: input, then c_r from −2 to 2 (standardised).
        x = jnp.asarray(imgs[:, 0])
        trav = np.asarray(jax.jit(lambda p, x: regression_traversal_images(model, p, x, lik))(params, x))
        reg = Path(workdir) / "regression_traversal.png"
        viz.image_grid([list(row) for block in trav for row in block]).save(reg)
        return [path, recon, reg]

    return pictures


def _check(c):
    hp = c.semi_supervised
    need(c, "supervision_rate", float(hp.supervision_rate) == 0.0 or int(hp.labels_per_class) >= 1,
         "0 when config.semi_supervised.labels_per_class is 0")


_S = "Siddharth et al. (2017)"
SEMI_SUPERVISED = register(MethodSpec(
    name="semi_supervised", build=_build, paper=_S,
    summary="class-conditional VAE q(y|x) q(z|x,y), p(x|y,z) trained on partly labelled batches (Eq. 2, 4)",
    hyperparameters=(
        Hyperparameter("label_factor", "label", "the supervised factor y: a factor name (or index) of the dataset",
                       "the digit label of " + _S + "'s MNIST/SVHN experiments"),
        Hyperparameter("labels_per_class", 10, "l: labelled images per class", _S + ", Fig. 5 (smallest l)",
                       at_least(0)),
        Hyperparameter("supervision_rate", 0.1, "r: probability that a batch is a labelled one", _S + ", Fig. 8",
                       between(0, 1)),
        Hyperparameter("labelled_seed", 0, "seed choosing the labelled set", "", at_least(0)),
        Hyperparameter("estimator", "plugin", "what feeds y downstream on unlabelled batches: plugin (E[y]) or "
                       "concrete (a relaxed sample)", _S + ", Sec. 3", Check(lambda v: v in ss_obj.ESTIMATORS,
                                                                             f"one of {', '.join(ss_obj.ESTIMATORS)}")),
        Hyperparameter("temperature", 0.67, "Concrete temperature (estimator=concrete)",
                       "≈ 2/3, as Maddison et al. (2017) recommend", greater_than(0)),
        Hyperparameter("alpha", 50.0, "weight of α·log q(y_i|x_i) on labelled batches (0 = the paper's Eq. 4; "
                       "see disentax/objectives/semi_supervised.py for why 0 learns no classifier)",
                       "chosen here: the order of L_{x|y} on digits (not tuned)", at_least(0)),
        Hyperparameter("regression_factors", (), "factors regressed by continuous partially-supervised latents c",
                       _S + ", Sec. 3 and 4.2 (a regressor instead of a classifier)",
                       Check(lambda v: all(isinstance(f, (str, int)) for f in v), "a tuple of factor names")),
    ),
    check=_check,
))
