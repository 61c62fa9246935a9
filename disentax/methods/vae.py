"""Single-network VAEs: the ELBO, β-VAE, the capacity-annealed β-VAE, β-TCVAE and DIP-VAE-I/II.

Each is an objective `objective(x, outputs, step) -> (loss, aux)` over the outputs of the VAE
module (`mu`, `logvar`, `z`, `out`), turned into a `Method` by `vae_method`. Every step also logs
the batch's ELBO decomposition (mutual information, total correlation, dimension-wise KL; Chen et
al. (2018), Esmaeili et al. (2019), Fig. 1), which sums to the batch's sampled KL.

DIP-VAE with `covariance="running"` carries its covariance estimate from step to step in
`TrainState.extra["dip_covariance"]` (as FactorVAE keeps its discriminator there), so it is
checkpointed with the parameters.
"""
from __future__ import annotations

from typing import Callable, Mapping

import jax
import jax.numpy as jnp

from disentax import estimators, objectives
from disentax.data import corruption
from disentax.errors import ConfigError
from disentax.methods.common import (
    DIAGNOSTICS_ESTIMATOR,
    decomposition_probe,
    encoder_of,
    gaussian_code,
    images_only,
    vae_pictures,
)
from disentax.methods.contract import Check, Hyperparameter, Method, MethodSpec, at_least, hp_value, one_of
from disentax.methods.registry import need, register
from disentax.models import build_vae
from disentax.objectives.dip import DIP_COVARIANCES, DIP_RUNNING_MOMENTUM
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

TRAIN_ESTIMATORS = ("mws", "mss", "hfvae")  # "exact" needs the whole dataset in one batch

def decomposition_diagnostics(dataset, batch_size: int, estimator: str = DIAGNOSTICS_ESTIMATOR) -> Callable:
    """`diagnostics(outputs) -> {mutual_info, total_correlation, dimwise_kl}` of a batch of
    encoder outputs (a dict with `z`, `mu`, `logvar`), with q(z) estimated over `dataset`'s size
    by `estimator` ("mws" for a batch of one, where the others need other batch members)."""
    if int(batch_size) < 2:
        estimator = "mws"
    return estimators.make_decomposition_diagnostics(int(dataset.num_examples), estimator)


def logged_decomposition(config, dataset, encode: Callable) -> Callable | None:
    """The decomposition the loop logs (`decomposition_probe` on `config.diagnostics_points` fresh
    images), or None when that is 0: then the step's own estimate on its batch is logged."""
    points = int(config.get("diagnostics_points", 0))
    return decomposition_probe(encode, dataset, points) if points else None


def init_vae_state(model, tx, key, x, held: Mapping | None = None) -> TrainState:
    """Parameters from `key` on an example batch `x` (one split draws the init sample), and `tx`'s
    state; `held` (arrays an objective carries between steps) goes into `TrainState.extra`."""
    init_key, sample_key = jax.random.split(key)
    return TrainState.create(model.init(init_key, x, sample_key)["params"], tx, **dict(held or {}))


HELD = "held"  # the key of the outputs that carries a stateful objective's new `extra`


def vae_loss(model, objective: Callable, stateful: bool = False, salt_and_pepper: float = 0.0) -> Callable:
    """`loss_fn(params, x, key, state)` for `make_train_step`: encode, sample, decode, `objective`.

    `stateful`: `objective(x, outputs, step, extra) -> (loss, aux, new_extra)` reads the pre-step
    `state.extra`; the new one rides in the outputs under `HELD` for `update_held` to store.
    `salt_and_pepper` > 0 makes it a denoising autoencoder: the encoder sees x with up to that
    fraction of its pixels flipped (`disentax.data.corruption.salt_and_pepper`), the objective
    scores the reconstruction of the clean x (Peychev et al. (2018), Sec. 3.1.3).
    """
    noise = float(salt_and_pepper)

    def loss_fn(params, x, key, state):
        seen = x
        if noise > 0:  # only then is the key split, so a plain model's draws stay as they were
            key, k_noise = jax.random.split(key)
            seen = corruption.salt_and_pepper(k_noise, x, noise)
        outputs = model.apply({"params": params}, seen, key)
        if not stateful:
            loss, aux = objective(x, outputs, state.step)
            return loss, (aux, outputs)
        loss, aux, held = objective(x, outputs, state.step, state.extra)
        return loss, (aux, {**outputs, HELD: held})

    return loss_fn


def update_held(state, outputs, batch, key):
    """`update_extra` of `make_train_step` for a stateful objective: its new `extra`, no metrics."""
    return outputs[HELD], {}


def vae_method(config, dataset, objective: Callable, *, model=None, diagnostics: Callable | None | str = "default",
               tx=None, diagnose: Callable | None | str = "default", held: Mapping | None = None) -> Method:
    """A single-network VAE method from `objective(x, outputs, step) -> (loss, aux)`.

    `held`: the initial values of arrays the objective carries from step to step (a running
    estimate, say). They live in `TrainState.extra`, so checkpoints hold them and a resumed run
    continues bit for bit; the objective is then `objective(x, outputs, step, extra) -> (loss,
    aux, new_extra)`, pure, reading the pre-step values.

    `model` defaults to the VAE of `config.model` (`disentax.models.build_vae`); its `encode(x)`
    returns (mu, logvar) of `config.model.latent_dim` dimensions: the code scored (the posterior
    means) and its posterior.
    `diagnostics` defaults to the ELBO decomposition of the step's batch (`decomposition_diagnostics`);
    `diagnose` to that of a larger fresh pool at logging steps (`logged_decomposition`); None skips
    either.
    """
    model = build_vae(config.model, dataset.image_shape) if model is None else model
    tx = make_optimizer(config.optimizer) if tx is None else tx
    if isinstance(diagnostics, str):
        diagnostics = decomposition_diagnostics(dataset, config.batch_size)
    encode, dim = encoder_of(model), int(config.model.latent_dim)
    return Method(
        name=config.method,
        model=model,
        dataset=dataset,
        # One compilation instead of op-by-op dispatch of every initialiser (seconds on CPU).
        init_state=jax.jit(lambda key, x: init_vae_state(model, tx, key, x, held)),
        train_step=make_train_step(vae_loss(model, objective, stateful=held is not None,
                                            salt_and_pepper=config.model.get("salt_and_pepper", 0.0)), tx, diagnostics=diagnostics,
                                   update_extra=None if held is None else update_held),
        sample_batch=images_only(dataset),
        codes={"z": gaussian_code(encode, (("z", dim),), "the encoder means μ(x) of q(z|x)")},
        pictures=vae_pictures(config, dataset, model),
        diagnose=logged_decomposition(config, dataset, encode) if isinstance(diagnose, str) else diagnose,
    )


# ----------------------------------------------------------------------------- the methods


def _vae(config, dataset):
    likelihood = config.model.likelihood

    def objective(x, o, step):
        return objectives.elbo(x, o["out"], o["mu"], o["logvar"], likelihood=likelihood)

    return vae_method(config, dataset, objective)


def _beta_vae(config, dataset):
    likelihood, beta = config.model.likelihood, hp_value(config.beta_vae.beta)

    def objective(x, o, step):
        return objectives.beta_vae(x, o["out"], o["mu"], o["logvar"], beta=beta, likelihood=likelihood)

    return vae_method(config, dataset, objective)


def _annealed_vae(config, dataset):
    likelihood, hp = config.model.likelihood, config.annealed_vae
    kw = dict(gamma=hp_value(hp.gamma), c_start=hp_value(hp.c_start), c_max=hp_value(hp.c_max), c_steps=int(hp.c_steps))

    def objective(x, o, step):
        return objectives.annealed_vae(x, o["out"], o["mu"], o["logvar"], step=step, likelihood=likelihood, **kw)

    return vae_method(config, dataset, objective)


def _check_annealed(c):
    need(c, "c_start", c.annealed_vae.c_start <= c.annealed_vae.c_max, "<= config.annealed_vae.c_max")


def _beta_tcvae(config, dataset):
    hp = config.beta_tcvae
    kw = dict(dataset_size=int(dataset.num_examples), alpha=hp_value(hp.alpha), beta=hp_value(hp.beta),
              gamma=hp_value(hp.gamma), estimator=str(hp.estimator), likelihood=config.model.likelihood)

    def objective(x, o, step):
        return objectives.beta_tcvae(x, o["out"], o["z"], o["mu"], o["logvar"], **kw)

    # The loss's aux already holds the decomposition with the estimator being optimised (the
    # terms it weights); computing it again as a diagnostic would double the O(B²D) work.
    return vae_method(config, dataset, objective, diagnostics=None)


def _check_tcvae(c):
    if int(c.batch_size) < 2 and c.beta_tcvae.estimator != "mws":
        raise ConfigError(f"config.batch_size must be >= 2 for the {c.beta_tcvae.estimator} estimator (it needs "
                          f"other batch members), got {c.batch_size}")


def _dip(variant):
    def build(config, dataset):
        hp = config[config.method]
        kw = dict(lambda_od=hp_value(hp.lambda_od), lambda_d=hp_value(hp.lambda_d), variant=variant,
                  likelihood=config.model.likelihood)
        if hp.covariance == "batch":
            def objective(x, o, step):
                return objectives.dip_vae(x, o["out"], o["mu"], o["logvar"], **kw)

            return vae_method(config, dataset, objective)

        momentum, dim = hp_value(hp.covariance_momentum), int(config.model.latent_dim)

        def running(x, o, step, extra):
            # No estimate exists before the first batch: step 0 takes its covariance as it is
            # (m = 0) rather than averaging in a made-up start (zeros or the identity).
            m = jnp.where(step > 0, momentum, 0.0)
            loss, aux = objectives.dip_vae(x, o["out"], o["mu"], o["logvar"], previous=extra["dip_covariance"],
                                           momentum=m, **kw)
            # The [D, D] estimate is state, not a metric to log.
            return loss, aux, {**extra, "dip_covariance": aux.pop("dip_covariance")}

        return vae_method(config, dataset, running, held={"dip_covariance": jnp.zeros((dim, dim), jnp.float32)})

    return build


NONNEG = at_least(0)
VAE = register(MethodSpec(
    name="vae", build=_vae, paper="Kingma & Welling (2014)",
    summary="the ELBO: reconstruction − KL(q(z|x) ‖ N(0, I))",
))
BETA_VAE = register(MethodSpec(
    name="beta_vae", build=_beta_vae, paper="Higgins et al. (2017)",
    summary="ELBO with the KL term weighted by β",
    hyperparameters=(
        Hyperparameter("beta", 4.0, "weight of KL(q(z|x) ‖ p(z))",
                       "Higgins et al. (2017), dSprites; disentanglement_lib sweeps 1, 2, 4, 6, 8, 16", NONNEG),
    ),
))
ANNEALED_VAE = register(MethodSpec(
    name="annealed_vae", build=_annealed_vae, paper="Burgess et al. (2018)",
    summary="reconstruction + γ·|KL − C|, the capacity C rising linearly over training",
    hyperparameters=(
        Hyperparameter("gamma", 1000.0, "weight γ of |KL − C|", "Burgess et al. (2018), dSprites", NONNEG),
        Hyperparameter("c_start", 0.0, "capacity C at step 0 (nats)", "Burgess et al. (2018)", NONNEG),
        Hyperparameter("c_max", 25.0, "final capacity (nats)", "Burgess et al. (2018), dSprites", NONNEG),
        Hyperparameter("c_steps", 100_000, "steps over which C rises from c_start to c_max",
                       "Burgess et al. (2018), dSprites", at_least(1)),
    ),
    check=_check_annealed,
))
BETA_TCVAE = register(MethodSpec(
    name="beta_tcvae", build=_beta_tcvae, paper="Chen et al. (2018)",
    summary="ELBO with its KL split into α·MI + β·TC + γ·dimension-wise KL, q(z) estimated on the batch",
    hyperparameters=(
        Hyperparameter("alpha", 1.0, "weight of the index-code mutual information", "Chen et al. (2018)", NONNEG),
        Hyperparameter("beta", 6.0, "weight of the total correlation",
                       "middle of disentanglement_lib's sweep 1, 2, 4, 6, 8, 10", NONNEG),
        Hyperparameter("gamma", 1.0, "weight of the dimension-wise KL", "Chen et al. (2018)", NONNEG),
        Hyperparameter("estimator", "mws", "estimator of log q(z): mws (minibatch weighted sampling), mss "
                       "(stratified), hfvae (Esmaeili et al. (2019), Sec. 3.1)", "Chen et al. (2018)",
                       one_of(*TRAIN_ESTIMATORS)),
    ),
    check=_check_tcvae,
))
_DIP_LAMBDA_OD = Hyperparameter("lambda_od", 10.0, "weight of the squared off-diagonal covariance entries",
                                "Kumar et al. (2018); in disentanglement_lib's sweep 1, 2, 5, 10, 20, 50", NONNEG)
_DIP_COVARIANCE = (
    Hyperparameter("covariance", "batch", "the penalised covariance: batch (the current minibatch's) or running "
                   "(C_t = m·stop_gradient(C_{t−1}) + (1 − m)·C_batch, the gradient through this batch only; "
                   "it scales the penalty's gradient by 1 − m)",
                   "batch: disentanglement_lib; running: Kumar et al. (2018), workshop version, Sec. 2.2",
                   one_of(*DIP_COVARIANCES)),
    Hyperparameter("covariance_momentum", DIP_RUNNING_MOMENTUM,
                   "weight m of the previous estimate when covariance=running (about 1/(1 − m) minibatches averaged)",
                   "chosen here (the paper gives none): see disentax.objectives.dip.DIP_RUNNING_MOMENTUM",
                   Check(lambda v: 0 <= v < 1, "in [0, 1)")),
)
DIP_VAE_I = register(MethodSpec(
    name="dip_vae_i", build=_dip("i"), paper="Kumar et al. (2018)",
    summary="ELBO + penalty pushing Cov_x[μ(x)] to the identity (Eq. 5)",
    hyperparameters=(
        _DIP_LAMBDA_OD,
        Hyperparameter("lambda_d", 100.0, "weight of the squared diagonal deviations from 1",
                       "Kumar et al. (2018), Sec. 3: λ_d = 10·λ_od in all experiments", NONNEG),
        *_DIP_COVARIANCE,
    ),
))
DIP_VAE_II = register(MethodSpec(
    name="dip_vae_ii", build=_dip("ii"), paper="Kumar et al. (2018), ICLR version",
    summary="ELBO + penalty pushing the covariance of q(z), E_x[Σ(x)] + Cov_x[μ(x)], to the identity",
    hyperparameters=(
        _DIP_LAMBDA_OD,
        Hyperparameter("lambda_d", 10.0, "weight of the squared diagonal deviations from 1",
                       "disentanglement_lib's DIP-VAE-II setting (λ_d = λ_od)", NONNEG),
        *_DIP_COVARIANCE,
    ),
))

__all__ = ["DIAGNOSTICS_ESTIMATOR", "HELD", "TRAIN_ESTIMATORS", "decomposition_diagnostics", "init_vae_state",
           "logged_decomposition", "update_held", "vae_loss", "vae_method"]
