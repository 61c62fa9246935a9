"""Disentangling video with independent prediction (Whitney & Fergus (2018)): a sequential VAE whose
k latent factors evolve independently, p(Z_t | Z_{t−1}) = Π_i p(z_t^i | z_{t−1}^i).

The model (`disentax.models.sequential`): per frame, Z_t = (z_t^1 ... z_t^k), k factors of d
dimensions; prior N(0, I) at t = 1, then per-factor transition MLPs; decoder p(x_t | Z_t) a DCGAN
generator with a Gaussian of fixed variance (0.25 on moving MNIST, App. A); filtering posterior
q(Z_t | Z_{t−1}, x_t) from a DCGAN encoder of x_t and the *predicted* prior p(Z_t | Z_{t−1}), which
the inference network reads behind a stop-gradient ("the transition parameters are not updated
here", App. A); zeros at t = 1. The loss is the negative ELBO of App. B
(`disentax.objectives.sequential_elbo`). `factored=False` is the paper's entangled baseline: one
factor of k·d dimensions, otherwise identical (Sec. 3, "Baseline").

One training step: all B·T frames through the encoder in one call (it does not depend on Z); the
filter over time in `jax.lax.scan` (`run_filter`: transition → prior → combiner → reparameterised
sample, one key per step from one split); all B·T samples through the generator in one call.
Batch-norm statistics of the encoder and generator live in `TrainState.extra["model_state"]`;
evaluation and pictures run them in inference mode.

Choices where the paper is silent: per-factor dimension d = 16 (so z_dim = k·d = 32, the width of
the encoder's last layer, and room for a digit's glyph, position and velocity); clips of 10 frames
(`bouncing_digits`' default; moving MNIST's sequences are 20 frames, 10 observed + 10 predicted, in
Srivastava et al. (2015)); 16 clips per batch (160 frames through each network per step). The
network-level choices are listed in `disentax.models.sequential`.

Evaluation (Sec. 3.1, Table 2; `evaluations`, written to evaluation.json) on `eval_clips` held-out
clips (the test split's glyphs), T − 1 transitions each:

- the codes are the filtering posterior *means*, the filter run with z_{t−1} = its mean: the
  dependence between factors is then measured on the part of the code the model infers, not
  diluted by the posterior's independent noise (the paper says "samples"; with small posterior
  variances the two agree);
- Ĩ(z_{t+1}^i; z_t^i) (same) and Ĩ(z_{t+1}^i; z_t^{j≠i}) (cross), KSG estimates
  (`disentax.metrics.ksg`), averaged over factors / ordered pairs; for the entangled model the best
  of 20 random partitions of its units into k groups (largest same − cross), as in the paper;
- the issue's own reading: KSG MI between each factor z_t^i and each object's true position at t,
  a k × (objects) matrix; a disentangled model has one large entry per row, in different columns;
- the ELBO per clip (one sampled filter pass) and per frame on the same clips.

The paper (moving MNIST, 2 factors): same 4.61, cross 0.75, ELBO −2902; entangled: 4.66, 2.61,
−2896. Its ELBO must be per frame: at variance 0.25 the constant of log p(x_t | Z_t) alone is
−½·log(2π·0.25)·64·64·3 ≈ −2775 nats per 64x64x3 frame; `elbo.per_frame` is the comparable number.

No code: the representation metrics of `disentax evaluate` score a [B, D] code of single images
against a discrete factor grid; clips have neither (their factors are trajectories), so the method
declares `no_code` and `disentax evaluate` runs `evaluations`.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import distributions as dist
from disentax import viz
from disentax.data.video import BouncingDigits, ShapeMotion
from disentax.errors import ConfigError
from disentax.methods.contract import (
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    greater_than,
    positive_ints,
)
from disentax.methods.registry import register
from disentax.metrics import ksg
from disentax.models.sequential import SequentialVAE
from disentax.objectives.sequential import fixed_variance_gaussian_log_likelihood, sequential_elbo
from disentax.train.adversarial import apply_network, variables
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

__all__ = ["INDEPENDENT_PREDICTION", "PAPER_TABLE_2", "build_model", "clip_datasets", "independent_generations",
           "run_filter", "transition_information"]

NO_CODE = ("the metrics score a [B, D] code of single images against a discrete factor grid, and clips have "
           "neither; the transition and position information and the ELBO are in evaluation.json")

# Whitney & Fergus (2018), Table 2, moving MNIST (nats; the ELBO per frame, see the module docstring).
PAPER_TABLE_2 = {"factored": {"same": 4.61, "cross": 0.75, "elbo": -2902.0},
                 "entangled": {"same": 4.66, "cross": 2.61, "elbo": -2896.0}}


# ----------------------------------------------------------------------------- model and data


def build_model(hp, frame_shape, config_model=None) -> SequentialVAE:
    """The `SequentialVAE` of `hp` (the method's config group): k factors of d dims, or, with
    `factored=False`, one factor of k·d dims (the entangled baseline)."""
    k, d = int(hp.num_factors), int(hp.factor_dim)
    num_factors, factor_dim = (k, d) if hp.factored else (1, k * d)
    extra = {} if config_model is None else {"upsample": config_model.upsample, "downsample": config_model.downsample}
    return SequentialVAE(num_factors=num_factors, factor_dim=factor_dim, image_shape=tuple(frame_shape),
                         encoder_widths=tuple(hp.encoder_widths), features=int(hp.features),
                         generator_widths=tuple(hp.generator_widths), transition_hidden=int(hp.transition_hidden),
                         transition_layers=int(hp.transition_layers), **extra)


def clip_datasets(dataset, num_frames: int):
    """(training clips, held-out clips) of `num_frames` frames from a clip dataset of
    `disentax.data.video`: bouncing digits' test split holds other glyphs; shape motion has no split
    (its held-out clips are fresh draws)."""
    if isinstance(dataset, BouncingDigits):
        make = lambda split: BouncingDigits(split=split, num_frames=num_frames, image_size=dataset.image_size,  # noqa: E731
                                            source=dataset.source)
        return make(dataset.split), make("test")
    if isinstance(dataset, ShapeMotion):
        clips = ShapeMotion(num_frames=num_frames, image_size=dataset.image_size)
        return clips, clips
    raise ConfigError(f"independent_prediction trains on clips: config.dataset must be bouncing_digits or "
                      f"shape_motion, got {getattr(dataset, 'name', type(dataset).__name__)!r}")


# ----------------------------------------------------------------------------- the filter


def run_filter(prior_fn, posterior_fn, features, key, z_dim: int, *, sample: bool = True) -> dict:
    """The filtering pass of q(Z|X) = Π_t q(Z_t | Z_{t−1}, x_t) over a batch of clips.

    Args:
      prior_fn: z_{t−1} [B, D] -> (mean, logvar) of p(Z_t | Z_{t−1}), the transition.
      posterior_fn: (features [B, F], prior mean, prior σ) -> (mean, logvar) of q, the combiner.
      features: the encoder's features of every frame, [B, T, F].
      key: split once into T keys; step t draws its sample from the t-th.
      sample: reparameterised samples z_t = μ + σ·ε (training, the ELBO); False: z_t = μ (the
        evaluation's codes), the keys unused.
    Returns:
      {"z", "q_mean", "q_logvar", "p_mean", "p_logvar"}, each [B, T, D]; the prior at t = 1 is
      N(0, I) (zeros), later the transition of the sampled z_{t−1}, with its gradient (the KL path);
      the combiner reads it behind `stop_gradient` (App. A), and reads zeros at t = 1.
    """
    b, t = features.shape[:2]
    keys = jax.random.split(key, t)

    def draw(k, mean, logvar):
        return dist.gaussian_sample(k, mean, logvar) if sample else mean

    zeros = jnp.zeros((b, z_dim), features.dtype)
    q_mean, q_logvar = posterior_fn(features[:, 0], zeros, zeros)
    z1 = draw(keys[0], q_mean, q_logvar)

    def step(z_prev, inputs):
        f_t, k_t = inputs
        p_mean, p_logvar = prior_fn(z_prev)
        seen_mean, seen_logvar = jax.lax.stop_gradient((p_mean, p_logvar))
        m, lv = posterior_fn(f_t, seen_mean, jnp.exp(0.5 * seen_logvar))
        z = draw(k_t, m, lv)
        return z, (z, m, lv, p_mean, p_logvar)

    _, rest = jax.lax.scan(step, z1, (jnp.swapaxes(features[:, 1:], 0, 1), keys[1:]))
    first = (z1, q_mean, q_logvar, zeros, zeros)
    names = ("z", "q_mean", "q_logvar", "p_mean", "p_logvar")
    return {n: jnp.concatenate([a[:, None], jnp.swapaxes(r, 0, 1)], 1) for n, a, r in zip(names, first, rest)}


def _clip_pass(model, params, model_state, clips, key, *, train: bool, sample: bool, variance: float):
    """Encode every frame, filter, decode every sample: (loss, aux, filtered, means, model_state)."""
    b, t = clips.shape[:2]
    frames = clips.reshape(b * t, *clips.shape[2:])
    features, model_state = apply_network(model, params, model_state, frames, train=train, method="encode")
    frozen = {"params": params}  # the transition and combiner hold no batch statistics
    prior_fn = lambda z: model.apply(frozen, z, method="prior")  # noqa: E731
    posterior_fn = lambda f, m, s: model.apply(frozen, f, m, s, method="posterior")  # noqa: E731
    filtered = run_filter(prior_fn, posterior_fn, features.reshape(b, t, -1), key, model.z_dim, sample=sample)
    means, model_state = apply_network(model, params, model_state, filtered["z"].reshape(b * t, -1), train=train,
                                       method="decode")
    means = means.reshape(clips.shape)
    log_px = fixed_variance_gaussian_log_likelihood(clips, means, variance)
    loss, aux = sequential_elbo(log_px, filtered["q_mean"], filtered["q_logvar"], filtered["p_mean"],
                                filtered["p_logvar"], factor_dim=model.factor_dim)
    return loss, aux, filtered, means, model_state


# ----------------------------------------------------------------------------- evaluation


def _standardised(codes) -> np.ndarray:
    """codes [..., D] as float64 with every unit at zero mean and unit variance over all leading axes.

    The mutual information is invariant to it; KSG's max-norm neighbourhoods are not: a unit (or
    a pixel coordinate) on a larger scale would decide every neighbourhood alone."""
    codes = np.asarray(codes, np.float64)
    flat = codes.reshape(-1, codes.shape[-1])
    std = flat.std(0)
    return (codes - flat.mean(0)) / np.where(std > 0, std, 1.0)


def transition_information(codes, num_factors: int, factored: bool, *, k: int = 3, num_partitions: int = 20,
                           seed: int = 0) -> dict:
    """Table 2's Ĩ(z_{t+1}^i; z_t^i) (`same`) and Ĩ(z_{t+1}^i; z_t^{j≠i}) (`cross`) of codes [N, T, D].

    Every unit is standardised first (`_standardised`). Factored: the k consecutive blocks of D / k
    units are the factors. Entangled: the best of
    `num_partitions` random partitions into k groups (largest same − cross), as Whitney & Fergus
    (2018), Sec. 3.1. KSG estimates in nats (`disentax.metrics.ksg`, estimator 1, `k` neighbours).
    """
    z_t, z_next = ksg.transition_pairs(_standardised(codes))
    if factored:
        r = ksg.partitioned_mutual_information(z_t, z_next, num_factors=num_factors, k=k, seed=seed)
        how = "the model's factors (consecutive blocks)"
    else:
        r = ksg.best_random_partition(z_t, z_next, num_factors, num_partitions=num_partitions, k=k, seed=seed)
        how = f"best of {num_partitions} random partitions (largest same - cross)"
    return {"same": r["same"], "cross": r["cross"], "difference": r["difference"],
            "matrix": np.asarray(r["matrix"]).tolist(), "partition": [list(g) for g in r["partition"]],
            "partitioning": how, "pairs": int(z_t.shape[0])}


def position_information(codes, positions, partition, *, k: int = 3, seed: int = 0) -> list:
    """KSG MI (nats) between each group of code units z_t^i (`partition`) and each object's true
    position at t: codes [N, T, D], positions [N, T, objects, 2] -> [k][objects], over all N·T frames,
    units and coordinates standardised first."""
    codes, positions = _standardised(codes), np.asarray(positions, np.float64)
    flat = codes.reshape(-1, codes.shape[-1])
    where = positions.reshape(-1, *positions.shape[2:])
    where = (where - where.mean(0)) / np.where(where.std(0) > 0, where.std(0), 1.0)
    return [[ksg.ksg_mutual_information(flat[:, list(g)], where[:, j], k=k, seed=seed)
             for j in range(where.shape[1])] for g in partition]


def independent_generations(z, factor_dim: int, num_factors: int):
    """Fig. 3's latents: z [T, D] posterior values of one clip -> [k, T − 1, D], row i holding every
    factor at its t = 2 value except factor i, which follows z over t = 2 .. T."""
    z = jnp.asarray(z)
    held = jnp.broadcast_to(z[1], (num_factors, z.shape[0] - 1, z.shape[1]))
    mask = jnp.repeat(jnp.eye(num_factors, dtype=bool), factor_dim, axis=1)[:, None, :]  # [k, 1, D]
    return jnp.where(mask, z[None, 1:], held)


def _evaluations(hp, model, test, variance: float):
    n, chunk = int(hp.eval_clips), int(hp.eval_chunk)
    k_factors = int(hp.num_factors)

    @jax.jit
    def infer(gen_variables, clips, key):
        params, state = gen_variables["params"], {c: v for c, v in gen_variables.items() if c != "params"}
        _, _, means_pass, _, _ = _clip_pass(model, params, state, clips, key, train=False, sample=False,
                                            variance=variance)
        _, aux, _, _, _ = _clip_pass(model, params, state, clips, key, train=False, sample=True, variance=variance)
        return means_pass["q_mean"], aux

    def evaluations(gen_variables, key) -> dict:
        k_data, k_filter, k_seed = jax.random.split(key, 3)
        clips, factors = jax.jit(lambda k: test.sample(k, n))(k_data)
        codes, auxes = [], []
        for i, start in enumerate(range(0, n, chunk)):
            c, a = infer(gen_variables, clips[start:start + chunk], jax.random.fold_in(k_filter, i))
            codes.append(np.asarray(c))
            auxes.append((min(chunk, n - start), jax.tree.map(np.asarray, a)))
        codes = np.concatenate(codes, 0)
        mean = lambda name: float(sum(m * a[name] for m, a in auxes) / n)  # noqa: E731
        seed = int(jax.random.randint(k_seed, (), 0, 2**31 - 1))
        trans = transition_information(codes, k_factors, bool(hp.factored), k=int(hp.ksg_neighbours),
                                       num_partitions=int(hp.partitions), seed=seed)
        pos = position_information(codes, factors["position"], trans["partition"], k=int(hp.ksg_neighbours),
                                   seed=seed)
        t = codes.shape[1]
        elbo = mean("elbo")
        return {
            "clips": n, "frames_per_clip": t, "held_out": getattr(test, "split", "fresh clips"),
            "codes": "filtering posterior means (the filter run on its means)",
            "model": "factored" if hp.factored else "entangled",
            "transition_information": trans,
            "position_information": {"matrix": pos, "rows": "factors (the partition above)",
                                     "columns": [f"object {j}" for j in range(len(pos[0]))]},
            "elbo": {"per_clip": elbo, "per_frame": elbo / t, "reconstruction": mean("reconstruction"),
                     "kl": mean("kl"),
                     "kl_per_factor": (sum(m * a["kl_per_factor"] for m, a in auxes) / n).tolist(),
                     "observation_variance": variance},
            "ksg": {"neighbours": int(hp.ksg_neighbours), "estimator": 1, "seed": seed},
            "paper_moving_mnist": PAPER_TABLE_2["factored" if hp.factored else "entangled"],
        }

    return evaluations


def _pictures(hp, model, test, variance: float, n: int = 4):
    """reconstructions.png (each clip: input row, reconstruction row) and independent_generations.png
    (each clip: input from t = 2, the reconstruction, then one row per factor varying alone; Fig. 3).
    The entangled model has no factors: its rows vary the same k consecutive blocks of d units."""
    k, d = int(hp.num_factors), int(hp.factor_dim)
    varied = [f"factor {j} only" if hp.factored else f"units {j * d}-{(j + 1) * d - 1} only" for j in range(k)]

    @jax.jit
    def draw(gen_variables, clips, key):
        params, state = gen_variables["params"], {c: v for c, v in gen_variables.items() if c != "params"}
        _, _, filtered, means, _ = _clip_pass(model, params, state, clips, key, train=False, sample=False,
                                              variance=variance)
        z = jax.vmap(lambda zc: independent_generations(zc, d, k))(filtered["q_mean"])  # [n, k, T-1, D]
        gens = model.apply(gen_variables, z.reshape(-1, z.shape[-1]), False, method="decode")
        return means, gens.reshape(*z.shape[:3], *clips.shape[2:])

    def pictures(gen_variables, key, workdir) -> list[Path]:
        k_data, k_filter = jax.random.split(key)
        clips = jax.jit(lambda key: test.sample(key, n)[0])(k_data)
        recon, gens = (np.asarray(a) for a in draw(gen_variables, clips, k_filter))
        clips = np.asarray(clips)
        workdir = Path(workdir)
        rows, labels = [], []
        for i in range(n):
            rows += [clips[i], recon[i]]
            labels += [f"clip {i}", "reconstruction"]
        paths = [viz.save_clip_strip(workdir / "reconstructions.png", np.stack(rows), labels)]
        rows, labels = [], []
        for i in range(n):
            rows += [clips[i, 1:], recon[i, 1:], *gens[i]]
            labels += [f"clip {i}", "all factors", *varied]
        paths.append(viz.save_clip_strip(workdir / "independent_generations.png", np.stack(rows), labels))
        return paths

    return pictures


# ----------------------------------------------------------------------------- the method


def _build(config, dataset) -> Method:
    hp = config.independent_prediction
    train_clips, test = clip_datasets(dataset, int(hp.num_frames))
    side = int(train_clips.image_size)
    for key in ("encoder_widths", "generator_widths"):
        if side != 4 * 2 ** len(hp[key]):
            raise ConfigError(f"config.independent_prediction.{key} must have log2({side}/4) = "
                              f"{np.log2(side / 4):g} entries (stride-2 layers down to a 4x4 map), got {tuple(hp[key])}")
    model = build_model(hp, train_clips.frame_shape, config.model)
    tx = make_optimizer(config.optimizer)
    variance = float(hp.observation_variance)

    def loss_fn(params, clips, key, state):
        loss, aux, _, _, model_state = _clip_pass(model, params, state.extra["model_state"], clips, key, train=True,
                                                  sample=True, variance=variance)
        return loss, (aux, model_state)

    def keep_statistics(state, model_state, batch, key):
        return {**state.extra, "model_state": model_state}, {}

    def init_state(key, clips):
        v = model.init(key, clips[:1, 0], train=False)
        params = v.pop("params")
        return TrainState.create(params, tx, model_state=dict(v))

    return Method(
        name=config.method, model=model, dataset=train_clips,
        init_state=jax.jit(init_state),
        train_step=make_train_step(loss_fn, tx, update_extra=keep_statistics),
        sample_batch=lambda key, batch_size: train_clips.sample(key, batch_size)[0],
        codes={}, no_code=NO_CODE,
        variables_of=lambda state: variables(state.params, state.extra["model_state"]),
        pictures=_pictures(hp, model, test, variance),
        evaluations=_evaluations(hp, model, test, variance),
    )


def _check(c):
    hp = c.independent_prediction
    if int(c.batch_size) < 2:
        raise ConfigError(f"config.batch_size must be >= 2 for independent_prediction (batch norm over the "
                          f"batch's frames), got {c.batch_size}")
    if int(hp.eval_clips) * (int(hp.num_frames) - 1) <= int(hp.ksg_neighbours):
        raise ConfigError(f"config.independent_prediction.eval_clips x (num_frames - 1) must exceed ksg_neighbours="
                          f"{hp.ksg_neighbours} (the KSG estimate needs more pairs than neighbours), got "
                          f"{hp.eval_clips} x {int(hp.num_frames) - 1}")


_APP_A = "Whitney & Fergus (2018), App. A"
INDEPENDENT_PREDICTION = register(MethodSpec(
    name="independent_prediction", build=_build, paper="Whitney & Fergus (2018)",
    summary="sequential VAE whose k latent factors evolve independently, p(Z_t|Z_t-1) = prod_i p(z_t^i|z_t-1^i)",
    shared_defaults={"optimizer.learning_rate": 3e-4, "batch_size": 16, "dataset": "bouncing_digits"},
    hyperparameters=(
        Hyperparameter("num_factors", 2, "k, latent factors with their own transition",
                       "Whitney & Fergus (2018), Sec. 3.1: two factors on moving MNIST", at_least(2)),
        Hyperparameter("factor_dim", 16, "d, dimensions of each factor (z_dim = k·d)",
                       "chosen (not in the paper): z_dim = 32, the width of the encoder's last layer", at_least(1)),
        Hyperparameter("factored", True, "true: k independent transitions; false: the entangled baseline, one "
                       "transition over all k·d dimensions", "Whitney & Fergus (2018), Sec. 3 (Baseline)"),
        Hyperparameter("observation_variance", 0.25, "fixed variance of the Gaussian p(x_t|Z_t)",
                       f"{_APP_A}: 0.25 for moving MNIST", greater_than(0)),
        Hyperparameter("num_frames", 10, "T, frames per training clip",
                       "chosen (not in the paper): the bouncing_digits default", at_least(2)),
        Hyperparameter("encoder_widths", (64, 128, 256, 512), "channels of the encoder's stride-2 convolutions",
                       f"{_APP_A} (DCGAN discriminator)", positive_ints()),
        Hyperparameter("features", 32, "channels of the encoder's last (4x4 valid) convolution", _APP_A,
                       at_least(1)),
        Hyperparameter("generator_widths", (512, 256, 128, 64), "channels of the generator's 4x4 map and of its "
                       "stride-2 transposed convolutions", f"{_APP_A} (DCGAN generator)", positive_ints()),
        Hyperparameter("transition_hidden", 128, "units of each transition MLP's hidden layers", _APP_A, at_least(1)),
        Hyperparameter("transition_layers", 4, "hidden SELU layers of each transition MLP (then Linear to 2d)",
                       f"{_APP_A}: Linear(d, 128), 3 x Linear(128, 128)", at_least(1)),
        Hyperparameter("eval_clips", 256, "held-out clips of the evaluation (x (T - 1) transition pairs)",
                       "chosen: 256 x 9 = 2,304 pairs for the KSG estimates", at_least(2)),
        Hyperparameter("eval_chunk", 64, "clips per inference call of the evaluation (memory, not numbers)", "",
                       at_least(1)),
        Hyperparameter("ksg_neighbours", 3, "k of the KSG estimator",
                       "Kraskov et al. (2004): a small k (2-4) for low bias", at_least(1)),
        Hyperparameter("partitions", 20, "random partitions scored for the entangled model",
                       "Whitney & Fergus (2018), Sec. 3.1", at_least(1)),
    ),
    check=_check,
))
