"""Kim & Mnih (2018), "Disentangling by Factorising" (the workshop version), Sec. 6 and Fig. 3:
FactorVAE against β-VAE on dSprites ("2D Shapes"), disentanglement (their metric) and
reconstruction error.

    python reproduce/factor_vae_dsprites.py --budget smoke|cpu|paper [--seeds N] [--workdir D]

The paper's numbers (Sec. 6, the text under Fig. 3, whose curves are over 10 seeds): "the
reconstruction error for the best disentanglement of β-VAE (β = 7) is over 60, which is
significantly higher than that for FactorVAE (γ = 35), around 40", and FactorVAE "gives much
improved disentanglement compared to β-VAE for both metrics". The metric values themselves are in
Fig. 3 only (no number in the text), so the metric rows quote what the figure shows. Footnote 1:
both metrics ignore the shape factor. The text does not define its reconstruction error; its size
(40 to 60 and more) fits the Bernoulli negative log-likelihood summed over the 4,096 pixels of an
image, in nats (a per-pixel squared error would be below 0.1), and that is what is measured here.

What is measured, per member: (1) the FactorVAE metric of Kim & Mnih, Sec. 4, as the paper reports
it, with the shape never the held-fixed factor (it still varies inside every vote's batch):
`disentax.metrics.factor_vae_score(..., exclude_factors=("shape",))` at disentanglement_lib's
protocol otherwise (batch 64, global variances of the encoder means, dimensions with a global sd
below 0.05 pruned, majority vote). The library's score over all five factors (what
`sweep_scores.evaluate_sweep(workdir, "factor_vae")` gives) is printed in each row's note and kept
in the JSON. The rows give the majority-vote classifier's accuracy on the evaluation votes, higher
is better (Sec. 4 words the metric as that classifier's error rate: one minus the number shown).
(2) The reconstruction error: −log p(x|z) summed over pixels, z ~ q(z|x) drawn once, mean over
fresh images (nats per image).

What departs from the paper: procedural dSprites (`disentax.data.DSprites`: the same factor grid,
rendered analytically, not a pixel copy, so absolute reconstruction errors can differ); the configs
`beta_vae_dsprites` (swept over β) and `factor_vae_dsprites_5d` (swept over γ; the paper's five
discriminator updates per VAE update and its 6 × 1,000 discriminator, the library's default being
disentanglement_lib's one update) with disentanglement_lib's architecture, Adam(1e-4) and batch 64
(the workshop text gives no optimiser, batch or length). The paper's β grid is not stated beyond
β = 7; `paper` sweeps β = 1, 2, 4, 7, 10 and γ = 10, 20, 35, 50 at disentanglement_lib's 300,000
steps with the paper's 10 seeds.

Budgets (steps × batch, seeds; grids; metric train/eval votes, variance images; reconstruction
images): smoke 2 × 8, 1 seed, β = 7, γ = 35, 10 / 5 votes, 100 images, 16 images (CI only; minutes
on 2 shared cores, the conv programs' compilations); cpu 1,500 × 64, 2 seeds, β = 1 / 7, γ = 35,
800 / 400 votes, 10,000 images, 2,000 images (4 β-VAE and 2 FactorVAE members: measured 27 minutes
on the shared 2-core machine, over the 10–15 aimed at, because the five discriminator updates made
a FactorVAE member step cost about 2–2.5 β-VAE steps there; `--seeds 1` halves it; 1,500 steps is
0.5 % of disentanglement_lib's length, so the rows show where training starts from, not the
paper's converged curves); paper 300,000 × 64, 10 seeds, the grids above, 10,000 / 5,000 votes,
10,000 images, 10,000 images. Each method is one sweep in `<workdir>/<method>`
(`disentax.runner.sweep.train_sweep`, scored by `sweep_scores.evaluate_sweep`), so a rerun resumes
the training and reuses the library's scores.
"""
from __future__ import annotations

from typing import Sequence

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np

from disentax import config as cfg
from disentax import methods, objectives
from disentax.data.registry import get_dataset
from disentax.metrics import factor_vae_score

SCRIPT = "factor_vae_dsprites"
BUDGETS = {
    "smoke": h.Budget(steps=2, batch=8, seeds=1, extra={"betas": (7.0,), "gammas": (35.0,), "num_train": 10,
                                                          "num_eval": 5, "num_variance": 100, "recon_images": 16}),
    "cpu": h.Budget(steps=1_500, batch=64, seeds=2, extra={"betas": (1.0, 7.0), "gammas": (35.0,), "num_train": 800,
                                                           "num_eval": 400, "num_variance": 10_000,
                                                           "recon_images": 2_000}),
    "paper": h.Budget(steps=300_000, batch=64, seeds=10,
                      extra={"betas": (1.0, 2.0, 4.0, 7.0, 10.0), "gammas": (10.0, 20.0, 35.0, 50.0),
                             "num_train": 10_000, "num_eval": 5_000, "num_variance": 10_000, "recon_images": 10_000}),
}
# (label, config, grid key, budget key of the grid)
METHODS = [("β-VAE", "beta_vae_dsprites", "beta_vae.beta", "betas"),
           ("FactorVAE", "factor_vae_dsprites_5d", "factor_vae.gamma", "gammas")]
IGNORED = ("shape",)  # footnote 1: both metrics ignore the shape factor


def paper_cells(label: str, value: float) -> tuple[str, str]:
    """(metric cell, reconstruction cell) of the paper for one setting: Sec. 6 gives numbers for
    β = 7 and γ = 35 only; the other settings are curves of Fig. 3."""
    if label == "β-VAE" and value == 7.0:
        return "Fig. 3: β-VAE's best (β = 7), below FactorVAE's", "over 60 (Sec. 6, β = 7)"
    if label == "FactorVAE" and value == 35.0:
        return "Fig. 3: above β-VAE's best", "around 40 (Sec. 6, γ = 35)"
    return "Fig. 3 (curve; no number in the text)", "Fig. 3 (curve; no number in the text)"


# Jitted programs, one per (what, objects, sizes): the members of a sweep share them (their
# parameters are arguments). Keyed by the objects' ids, each entry holding the objects so that no id
# is reused while it is kept.
_PROGRAMS: dict = {}


def _program(what: str, objects: tuple, sizes: tuple, make):
    key = (what, tuple(id(o) for o in objects), sizes)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = (jax.jit(make()), objects)
    return _PROGRAMS[key][0]


def reconstruction_nll(model, likelihood: str, params, dataset, num_images: int, key, batch_size: int = 250) -> float:
    """−log p(x|z) summed over the pixels of an image, z ~ q(z|x) once, mean over `num_images`
    fresh images (nats per image)."""
    def make():
        def total(p, k):
            k_data, k_enc = jax.random.split(k)
            x = dataset.sample(k_data, batch_size)[0]
            out = model.apply({"params": p}, x, k_enc)["out"]
            return -jnp.sum(objectives.reconstruction_log_likelihood(x, out, likelihood))

        return total

    program = _program("nll", (model, dataset), (likelihood, batch_size), make)
    batches = -(-int(num_images) // batch_size)
    return sum(float(program(params, jax.random.fold_in(key, i))) for i in range(batches)) / (batches * batch_size)


def run(budget: h.Budget, workdir) -> list[dict]:
    """One sweep per method; rows {"method", "value", "seed", "metric" (shape ignored),
    "metric_all" (the library's, all factors), "reconstruction"}."""
    rows = []
    extra = budget.extra
    for label, config_name, key, grid_name in METHODS:
        c = h.budget_config(config_name, budget)
        out = h.sweep_and_score(c, workdir / c.method, budget.seeds, {key: tuple(extra[grid_name])}, "factor_vae",
                                extra["num_train"], extra["num_eval"])
        dataset = get_dataset(c.dataset)
        method = methods.build(cfg.validate(c), dataset)
        representation = method.code().representation
        states = out["trained"]["states"]
        for i, scored in enumerate(out["scored"]["rows"]):
            row = {"method": label, "value": float(scored[key]), "seed": scored["seed"],
                   "diverged": scored["diverged"], "metric": None, "metric_all": None, "reconstruction": None}
            if scored["diverged"] is None:
                params = jax.tree.map(lambda a, i=i: a[i], states.params)
                k_metric, k_recon = jax.random.split(jax.random.PRNGKey(int(scored["seed"])))
                mine = factor_vae_score(k_metric, lambda x, p=params: representation(p, x), dataset,
                                        num_train=extra["num_train"], num_eval=extra["num_eval"],
                                        num_variance_estimate=extra["num_variance"], exclude_factors=IGNORED)
                row.update(metric=mine["eval_accuracy"], active_dims=mine["num_active_dims"],
                           metric_all=scored["metrics"]["factor_vae"]["eval_accuracy"],
                           reconstruction=reconstruction_nll(method.model, c.model.likelihood, params, dataset,
                                                             extra["recon_images"], k_recon))
            rows.append(row)
        h.progress(f"{label}: shape-ignored metric and reconstruction error of {len(out['scored']['rows'])} members")
    return rows


def main(argv: Sequence[str] | None = None) -> list[list[str]]:
    """Run the budget named on the command line, print and append the rows; returns them."""
    args, budget = h.parse_args(SCRIPT, __doc__, BUDGETS, argv)
    rows = run(budget, args.workdir)
    measured = []
    for label, _, _, grid_name in METHODS:
        for value in budget.extra[grid_name]:
            mine = [r for r in rows if r["method"] == label and r["value"] == value]
            ok = [r for r in mine if r["diverged"] is None]
            diverged = len(mine) - len(ok)
            name = f"{label} ({'β' if label == 'β-VAE' else 'γ'}={value:g})"
            paper_metric, paper_recon = paper_cells(label, value)
            note = "procedural dSprites" + (f"; {diverged} seed(s) diverged, left out" if diverged else "")
            all_factors = (f"; all 5 factors (library): {100 * np.mean([r['metric_all'] for r in ok]):.1f} %"
                           if ok else "")
            measured += [h.Measured(f"{name}: FactorVAE metric %, shape ignored", paper_metric,
                                    [r["metric"] for r in ok], scale=100.0, note=note + all_factors),
                         h.Measured(f"{name}: reconstruction error (Bernoulli NLL, nats/image)", paper_recon,
                                    [r["reconstruction"] for r in ok], note=note)]
    return h.report(SCRIPT, args, budget, measured, {"runs": rows})


if __name__ == "__main__":
    main()
