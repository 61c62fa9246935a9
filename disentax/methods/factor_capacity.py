"""The factor-conditioned capacity experiment of Burgess et al. (2018), "Understanding disentangling
in β-VAE", Sec. 4.3 and Eq. 7: which ground-truth factor a capacity-limited code spends its nats on.

The images are generated from their own ground-truth factors f through q(z|f): one latent per
factor, z_k = w_k f_k + σ_k ε_k with a learned scale w_k and noise σ_k (`FactorEncoder`), and
decoded by the standard decoder. The objective is Eq. 7,

    E_q(z|f)[−log p(x|z)] + γ |KL(q(z|f) ‖ p(z)) − C|,

with C raised linearly from 0.5 to 25 nats (the paper's range), i.e. `objectives.annealed_vae` with
q(z|f) in place of q(z|x). The KL of each latent is the information kept about its factor; the
paper finds that position takes the first nats (x and y equally, below 5 nats), then scale (from
about 6 nats), then shape, then rotation (Fig. 3: reconstructions show position at 3.1 nats, scale
at 7.3, shape at 15.4, rotation at 23.8).

Chosen here, where the paper is silent: factors standardised to zero mean and unit variance over
their grid (`evaluation.capacity.standardise_factors`; categorical shape and circular orientation
enter as their index, as the paper's single scaled latent per factor implies); σ ≤ 1 (see
`FactorEncoder`: a free σ buys the target KL with uninformative noise); w starts at 0.01 and σ
just below 1 (KL ≈ 0, under the first target); batch 64; the onset threshold of the pictures,
0.5 nats.

No image code: nothing encodes an image, so the representation metrics do not apply. Evaluation:
the KL per factor in closed form (`evaluation.capacity.factor_kl`), the learned scales and noises.
Pictures: capacity.png (KL per factor against C over training, from metrics.jsonl, Fig. 3 top left)
and reconstructions.png.
"""
from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

from disentax import objectives, viz
from disentax.evaluation.capacity import capacity_onsets, factor_kl, standardise_factors
from disentax.methods.contract import Hyperparameter, Method, MethodSpec, at_least, greater_than, hp_value
from disentax.methods.registry import need, register
from disentax.models.vae import VAE, FactorEncoder, build_vae, log_noise
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step


def _build(config, dataset) -> Method:
    hp = config.factor_capacity
    names, sizes = list(dataset.factor_names), [int(s) for s in dataset.factor_sizes]
    decoder = build_vae(config.model, dataset.image_shape).decoder
    model = VAE(encoder=FactorEncoder(len(sizes), init_scale=float(hp.init_scale)), decoder=decoder)
    tx = make_optimizer(config.optimizer)
    likelihood = config.model.likelihood
    kw = dict(gamma=hp_value(hp.gamma), c_start=hp_value(hp.c_start), c_max=hp_value(hp.c_max), c_steps=int(hp.c_steps))

    def sample_batch(key, batch_size):
        x, f = dataset.sample(key, int(batch_size))
        return {"x": x, "f": standardise_factors(f.astype(np.float32), sizes)}

    def init_state(key, batch):
        k_init, k_fwd = jax.random.split(key)
        return TrainState.create(model.init(k_init, batch["f"], k_fwd)["params"], tx)

    def loss_fn(params, batch, key, state):
        o = model.apply({"params": params}, batch["f"], key)
        loss, aux = objectives.annealed_vae(batch["x"], o["out"], o["mu"], o["logvar"], step=state.step,
                                            likelihood=likelihood, **kw)
        return loss, (aux, None)

    second = np.array([1.0 if s > 1 else 0.0 for s in sizes])

    def evaluations(params, key) -> dict:
        enc = params["encoder"]
        ln_sigma = np.asarray(log_noise(enc["noise"]))
        kl = factor_kl(enc["scale"], ln_sigma, second)
        return {
            "kl_per_factor": dict(zip(names, map(float, kl))),
            "total_kl": float(kl.sum()),
            "scale": dict(zip(names, map(float, np.asarray(enc["scale"])))),
            "noise": dict(zip(names, map(float, np.exp(ln_sigma)))),
        }

    return Method(name=config.method, model=model, dataset=dataset, init_state=init_state,
                  train_step=make_train_step(loss_fn, tx), sample_batch=sample_batch, codes={},
                  no_code="q(z|f) encodes an image's ground-truth factors, not the image: there is no image code "
                          "to score (evaluation.json holds the KL each factor keeps)",
                  evaluations=evaluations,
                  pictures=_pictures(config, model, sample_batch, names, float(hp.onset_threshold)))


def logged_capacity_curve(metrics_path) -> tuple[np.ndarray, np.ndarray]:
    """(capacity [T], kl_per_factor [T, K]) from a run's metrics.jsonl: the rows that log both."""
    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "capacity" in r and isinstance(r.get("kl_per_dim"), list)]
    return np.array([r["capacity"] for r in rows]), np.array([r["kl_per_dim"] for r in rows])


def _pictures(config, model, sample_batch, names, threshold: float):
    n = int(config.num_viz_images)

    def pictures(params, key, workdir):
        workdir = Path(workdir)
        k_data, k_z = jax.random.split(key)
        batch = sample_batch(k_data, n)
        o = model.apply({"params": params}, batch["f"], k_z)
        recon = objectives.reconstruction_mean(o["out"], config.model.likelihood)
        paths = [viz.save_reconstructions(workdir / "reconstructions.png", batch["x"], recon)]
        c, kl = logged_capacity_curve(workdir / "metrics.jsonl") if (workdir / "metrics.jsonl").exists() else ([], [])
        if len(c):
            # A bare Figure draws without a backend, so a notebook's inline backend and pyplot's figures stay
            # untouched.
            from matplotlib.figure import Figure

            onsets = capacity_onsets(c, kl, threshold)
            fig = Figure(figsize=(6, 3.8))
            ax = fig.subplots()
            for k, name in enumerate(names):
                when = "never" if onsets[k] is None else f"{onsets[k]:.1f}"
                ax.plot(c, kl[:, k], label=f"{name} (>= {threshold:g} nats at C = {when})")
            ax.plot(c, kl.sum(1), "k--", lw=1, label="all factors")
            ax.set_xlabel("target capacity C (nats)")
            ax.set_ylabel("KL of the factor's latent (nats)")
            ax.set_title("Nats per factor as capacity rises (cf. Burgess et al. 2018, Fig. 3)")
            ax.legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(workdir / "capacity.png", dpi=110)
            paths.append(workdir / "capacity.png")
        return paths

    return pictures


_B = "Burgess et al. (2018)"
FACTOR_CAPACITY = register(MethodSpec(
    name="factor_capacity", build=_build, paper=_B + ", Eq. 7",
    summary="a generator from the ground-truth factors through a capacity-limited q(z|f): which factor gets the nats",
    hyperparameters=(
        Hyperparameter("gamma", 1000.0, "weight γ of |KL − C|", _B + ", App. A.2", greater_than(0)),
        Hyperparameter("c_start", 0.5, "target capacity C at step 0 (nats)", _B + ", Sec. 4.3", at_least(0)),
        Hyperparameter("c_max", 25.0, "target capacity at step c_steps (nats)", _B + ", Sec. 4.3", at_least(0)),
        Hyperparameter("c_steps", 100_000, "steps over which C rises linearly", "as the paper's Eq. 8 runs (App. A.2)",
                       at_least(1)),
        Hyperparameter("init_scale", 0.01, "initial scale w of every factor (σ starts at 1)", "chosen here",
                       greater_than(0)),
        Hyperparameter("onset_threshold", 0.5, "nats a factor must hold to count as encoded (capacity.png)",
                       "chosen here", greater_than(0)),
    ),
    shared_defaults={"optimizer.learning_rate": 5e-4, "num_steps": 100_000},
    check=lambda c: need(c, "c_start", c.factor_capacity.c_start <= c.factor_capacity.c_max,
                         "<= config.factor_capacity.c_max"),
))
