"""The auxiliary-task VAE (explicit information placement): a global code q(z_g|x) and a local code
q(z_l|x~) read from x~, the image with its patches shuffled, which keeps colour and texture and
breaks shape; p(x|z_g, z_l) and the auxiliary p(x~|z_l) (Eq. 6). With clustering, a Concrete
cluster variable y and a prior p(z_g|y) (Eq. 7-11).

Codes scored: "all" = [means of q(z_g|x), means of q(z_l|x~)] with x~ shuffled by a fixed key (so
codes are deterministic), and "global" and "local" apart.
"""
from __future__ import annotations

import jax

from disentax.errors import ConfigError
from disentax.evaluation.information_placement import auxiliary_evaluations, write_auxiliary_pictures
from disentax.methods.common import concatenated, gaussian_code
from disentax.methods.contract import Hyperparameter, Method, MethodSpec, at_least, greater_than
from disentax.methods.registry import register
from disentax.models.auxiliary import build_auxiliary_vae
from disentax.objectives.auxiliary import auxiliary_vae, auxiliary_vae_clustering, shuffle_patches
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

# The fixed shuffle of x~ when a trained model is scored (training draws a new one every batch).
SCORING_SHUFFLE_KEY = 0


def _build(config, dataset) -> Method:
    hp = config[config.method]
    clustering = config.method == "auxiliary_vae_clustering"
    h, w = dataset.image_shape[0], dataset.image_shape[1]
    patch = int(hp.patch)
    if h % patch or w % patch:
        raise ConfigError(f"config.{config.method}.patch={patch} must divide the image size {h}x{w}")
    model = build_auxiliary_vae(config.model, dataset.image_shape, global_dim=int(hp.global_dim),
                                local_dim=int(hp.local_dim), num_clusters=int(hp.num_clusters) if clustering else 0,
                                temperature=float(hp.temperature) if clustering else 0.5)
    tx = make_optimizer(config.optimizer)
    beta, likelihood = float(hp.beta), config.model.likelihood

    def sample_batch(key, batch_size):
        k_data, k_shuffle = jax.random.split(key)
        x = dataset.sample(k_data, batch_size)[0]
        return {"x": x, "x_shuffled": shuffle_patches(k_shuffle, x, patch)}

    def loss_fn(params, batch, key, state):
        o = model.apply({"params": params}, batch["x"], batch["x_shuffled"], key)
        args = (batch["x"], batch["x_shuffled"], o["out"], o["out_aux"], o["mu_g"], o["logvar_g"], o["mu_l"],
                o["logvar_l"])
        if clustering:
            loss, aux = auxiliary_vae_clustering(*args, o["y_logits"], o["prior_mu_g"], o["prior_logvar_g"], beta=beta,
                                                 likelihood=likelihood)
        else:
            loss, aux = auxiliary_vae(*args, beta=beta, likelihood=likelihood)
        return loss, (aux, None)

    def init_state(key, batch):
        k_init, k_sample = jax.random.split(key)
        return TrainState.create(jax.jit(model.init)(k_init, batch["x"], batch["x_shuffled"], k_sample)["params"], tx)

    def global_code(params, x):
        return model.apply({"params": params}, x, method=model.encode_global)[:2]

    def local_code(params, x):
        x_t = shuffle_patches(jax.random.PRNGKey(SCORING_SHUFFLE_KEY), x, patch)
        return model.apply({"params": params}, x_t, method=model.encode_local)

    dg, dl = int(hp.global_dim), int(hp.local_dim)
    codes = {
        "all": gaussian_code(concatenated(global_code, local_code), (("global", dg), ("local", dl)),
                             "means of q(z_g|x), then of q(z_l|x~) (x~: patches shuffled by a fixed key)"),
        "global": gaussian_code(global_code, (("global", dg),), "means of q(z_g|x)"),
        "local": gaussian_code(local_code, (("local", dl),), "means of q(z_l|x~), x~ shuffled by a fixed key"),
    }

    def pictures(params, key, workdir):
        k_batch, k_draw = jax.random.split(key)
        return write_auxiliary_pictures(model, params, k_draw, workdir, sample_batch(k_batch, int(config.num_viz_images)))

    evaluations = None
    if hasattr(dataset, "factor_names") and int(hp.swap_examples) > 0:
        def evaluations(params, key):
            return auxiliary_evaluations(model, params, key, dataset, patch, int(hp.swap_examples),
                                         hp.cluster_factor if clustering else None)

    return Method(name=config.method, model=model, dataset=dataset, init_state=init_state,
                  train_step=make_train_step(loss_fn, tx), sample_batch=sample_batch, codes=codes,
                  pictures=pictures, evaluations=evaluations)


def _check(c):
    if c.model.likelihood != "logistic":
        raise ConfigError(f"config.model.likelihood must be 'logistic' for {c.method!r} (the paper's discretized "
                          f"logistic), got {c.model.likelihood!r}")


_HERE = "chosen here: not given in the paper"
_COMMON = (
    Hyperparameter("beta", 1.0, "weight of the KL terms", "the swap test of the paper's Fig. 3 (Fig. 2 used 20)",
                   at_least(0)),
    Hyperparameter("patch", 4, "side of the shuffled square patches (pixels; must divide the image)",
                   _HERE + " (4 breaks a sprite's shape at 32x32)", at_least(1)),
    Hyperparameter("global_dim", 8, "dimensions of z_g", _HERE, at_least(1)),
    Hyperparameter("local_dim", 8, "dimensions of z_l", _HERE, at_least(1)),
    Hyperparameter("swap_examples", 2000, "images per factor-classifier fit and per swap-test condition at the end "
                   "of training on a ground-truth dataset (0: no swap test)", _HERE, at_least(0)),
)
AUXILIARY_VAE = register(MethodSpec(
    name="auxiliary_vae", build=_build, paper="Anonymous (2019), ICLR submission on explicit information placement, Eq. 6",
    summary="global code from x, local code from x with its patches shuffled, an auxiliary decoder of x~",
    hyperparameters=_COMMON,
    shared_defaults={"model.likelihood": "logistic"},
    check=_check,
))
AUXILIARY_VAE_CLUSTERING = register(MethodSpec(
    name="auxiliary_vae_clustering", build=_build, paper="Anonymous (2019), ICLR submission on explicit information placement, Eq. 7-11",
    summary="the auxiliary-task VAE with a Concrete cluster variable y and a prior p(z_g|y)",
    hyperparameters=(
        Hyperparameter("beta", 40.0, "weight of the KL terms", "the paper's Table 1 (SVHN; searched over 1, 10, "
                       "20, 30, 40, 50, 60)", at_least(0)),
    ) + _COMMON[1:] + (
        Hyperparameter("num_clusters", 30, "k: values of the cluster variable y",
                       "the paper's Table 1: 30 clusters for the 10 SVHN digits", at_least(2)),
        Hyperparameter("temperature", 0.5, "Concrete temperature of y", _HERE + " (the paper: 'constant')",
                       greater_than(0)),
        Hyperparameter("cluster_factor", "label", "factor the clusters are scored against at the end of training",
                       "the SVHN digit label of Table 1"),
    ),
    shared_defaults={"model.likelihood": "logistic"},
    check=_check,
))
