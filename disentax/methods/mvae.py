"""The Multi-Entity VAE (Nash et al. (2017)) and its matched standard VAE.

The MVAE's encoder gives a grid of candidate object posteriors; the N of highest KL become the
objects, decoded by a shared object network, pooled symmetrically and rendered. The matched VAE
has the same encoder projected to one Gaussian of `model.latent_dim` (60 = 5 × 12) dimensions.

Codes scored: the MVAE's N selected object posteriors in descending KL order, flattened to
[B, N·D] ("objects"); the matched VAE's means ("z").
"""
from __future__ import annotations

import jax

from disentax import objectives
from disentax.data.multi_dsprites import MultiDSprites
from disentax.errors import ConfigError
from disentax.evaluation.objects import evaluate_counting, write_mvae_pictures
from disentax.methods.common import gaussian_code, images_only
from disentax.methods.contract import Hyperparameter, Method, MethodSpec, at_least, one_of, positive_ints
from disentax.methods.registry import register
from disentax.methods.vae import vae_method
from disentax.models.mvae import POOLINGS, build_mvae
from disentax.objectives.multi_entity import multi_entity_elbo
from disentax.train.optim import exponential_decay
from disentax.train.step import TrainState, make_train_step


def _optimizer(config):
    hp = config[config.method]
    return exponential_decay(config.optimizer, float(hp.lr_final), int(hp.lr_decay_steps))


def _build_mvae(config, dataset) -> Method:
    hp = config.mvae
    model = build_mvae(hp, config.model.likelihood, dataset.image_shape)
    tx = _optimizer(config)
    beta, likelihood = float(hp.beta), config.model.likelihood

    def loss_fn(params, x, key, state):
        o = model.apply({"params": params}, x, key)
        loss, aux = multi_entity_elbo(x, o["out"], o["mu"], o["logvar"], likelihood=likelihood, beta=beta)
        # How peaked the attention is: share of the whole map's KL that the N chosen cells hold.
        aux["kl_selected_share"] = jax.lax.stop_gradient(o["kl"].sum(-1) / (o["kl_map"].sum(-1) + 1e-8)).mean()
        return loss, (aux, None)

    def init_state(key, x):
        k_init, k_sample = jax.random.split(key)
        return TrainState.create(jax.jit(model.init)(k_init, x, k_sample)["params"], tx)

    def objects(params, x):
        """Selected object posteriors in descending KL order, flattened: [B, N * D] each."""
        mu, logvar = model.apply({"params": params}, x, method=model.encode)[:2]
        return mu.reshape(mu.shape[0], -1), logvar.reshape(logvar.shape[0], -1)

    n, d = int(hp.num_objects), int(hp.object_dim)
    code = gaussian_code(objects, tuple((f"object{i}", d) for i in range(n)),
                         f"the {n} selected object posteriors' means in descending KL order, {d} dims each")

    def pictures(params, key, workdir):
        return write_mvae_pictures(model, params, key, workdir, dataset, int(config.num_viz_images))

    evaluations = None
    if isinstance(dataset, MultiDSprites) and int(hp.count_threshold_examples) and int(hp.count_test_examples):
        def evaluations(params, key):
            return {"counting": evaluate_counting(model, params, dataset, key, int(hp.count_threshold_examples),
                                                  int(hp.count_test_examples))}

    return Method(name=config.method, model=model, dataset=dataset, init_state=init_state,
                  train_step=make_train_step(loss_fn, tx), sample_batch=images_only(dataset),
                  codes={"objects": code}, pictures=pictures, evaluations=evaluations)


def _build_baseline(config, dataset) -> Method:
    hp = config.mvae_baseline
    model = build_mvae(hp, config.model.likelihood, dataset.image_shape, flat_dim=int(config.model.latent_dim))
    beta, likelihood = float(hp.beta), config.model.likelihood

    def objective(x, o, step):
        return objectives.beta_vae(x, o["out"], o["mu"], o["logvar"], beta=beta, likelihood=likelihood)

    return vae_method(config, dataset, objective, model=model, diagnostics=None, tx=_optimizer(config),
                      diagnose=None)


def _check(c):
    hp = c[c.method]
    if len(hp.enc_channels) != len(hp.enc_pools):
        raise ConfigError(f"config.{c.method}.enc_channels and config.{c.method}.enc_pools must have the same length, "
                          f"got {hp.enc_channels} and {hp.enc_pools}")
    if c.model.likelihood != "bernoulli":
        raise ConfigError(f"config.model.likelihood must be 'bernoulli' for {c.method!r} (Nash et al. (2017)), "
                          f"got {c.model.likelihood!r}")


_N = "Nash et al. (2017), App. A"
_HERE = "chosen here: not given in the paper"
_ARCHITECTURE = (
    Hyperparameter("enc_channels", (32, 32, 64, 64), "3x3 convolutions of the encoder", "four convolutions: " + _N
                   + "; widths " + _HERE, positive_ints()),
    Hyperparameter("enc_pools", (2, 2, 2, 1), "max-pool size after each encoder convolution (1 = none)",
                   _HERE + " (an 8x8 grid of candidates)", positive_ints()),
    Hyperparameter("head_channels", 64, "the convolution after the coordinate channels", _HERE, at_least(1)),
    Hyperparameter("g_hidden", (256,), "dense layers of the object network g", _HERE, positive_ints()),
    Hyperparameter("map_shape", (8, 8, 16), "g's dense output reshaped to this map", _N, positive_ints()),
    Hyperparameter("g_channels", (32, 32), "g's convolutions, each after a bilinear upsampling", _HERE,
                   positive_ints()),
    Hyperparameter("h_channels", (32, 32), "the renderer h's convolutions", _HERE, positive_ints()),
    Hyperparameter("pooling", "max", "symmetric pooling of the objects' maps: max or sum", _N, one_of(*POOLINGS)),
)
_TRAINING = (
    Hyperparameter("beta", 1.0, "weight of the KL", "the ELBO: " + _N, at_least(0)),
    Hyperparameter("lr_final", 1e-5, "learning rate at the end of the annealing (0: constant)",
                   _N + ": 1e-3 to 1e-5 over 3e6 steps (log-linear chosen here)", at_least(0)),
    Hyperparameter("lr_decay_steps", 3_000_000, "steps of the learning-rate annealing", _N, at_least(1)),
)
MVAE = register(MethodSpec(
    name="mvae", build=_build_mvae, paper="Nash et al. (2017)",
    summary="object latents chosen from a grid of candidates by KL, a permutation-invariant object decoder",
    hyperparameters=_TRAINING + (
        Hyperparameter("num_objects", 5, "N: object latents selected per image", _N + " (60 = 5 x 12)", at_least(1)),
        Hyperparameter("object_dim", 12, "D: dimensions of each object latent", _N, at_least(1)),
    ) + _ARCHITECTURE + (
        Hyperparameter("count_threshold_examples", 6400, "scenes on which the counting KL threshold is chosen "
                       "at the end of training (0: no counting evaluation)", "Nash et al. (2017), Sec. 4.3",
                       at_least(0)),
        Hyperparameter("count_test_examples", 12800, "fresh scenes on which counting is scored",
                       "Nash et al. (2017), Sec. 4.3", at_least(0)),
    ),
    shared_defaults={"optimizer.learning_rate": 1e-3},
    check=_check,
))
MVAE_BASELINE = register(MethodSpec(
    name="mvae_baseline", build=_build_baseline, paper="Nash et al. (2017), App. A",
    summary="the MVAE's matched standard VAE: its encoder projected to one Gaussian, decoded by g then h",
    hyperparameters=_TRAINING + _ARCHITECTURE,
    shared_defaults={"optimizer.learning_rate": 1e-3, "model.latent_dim": 60},
    check=_check,
))
