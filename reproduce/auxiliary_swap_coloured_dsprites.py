"""Anonymous (2019), "Explicit Information Placement on Latent Variables using Auxiliary Generative
Modelling Task" (ICLR 2019 submission), Experiment 1.2 and Fig. 3: the swap test. Replacing the
local code z_l keeps the global content of an image, replacing the global code z_g destroys it.

    python reproduce/auxiliary_swap_coloured_dsprites.py --budget smoke|cpu|paper [--seeds N] [--workdir D]

The paper's numbers (Sec. 3.1.2 and Fig. 3, SVHN, β = 1): an SVHN digit classifier with 95 % test
accuracy reads the digit of images generated from the encoded test set; (i) reconstructions give
86 %, (ii) z_l replaced by a sample of N(0, 1) with z_g kept gives 80 %, (iii) z_g replaced by a
sample of N(0, 1) with z_l kept gives 11 % ("ie: chance" for ten digits). The rows are those four
numbers.

What departs from the paper: coloured dSprites (`disentax.data.coloured_dsprites`, 32 x 32 x 3, a
sprite of 6 bright colours on 5 dark backgrounds) stands in for SVHN, whose TFDS copy cannot be
downloaded here; the swap test on SVHN would also need the paper's trained digit classifier, which
the library's linear pixel readouts do not replace, so the script runs coloured dSprites only. The
"global content" read back is the sprite's shape, scale, x and y (what a patch shuffle destroys),
each by a linear ridge readout fitted on the pixels of real images
(`disentax.evaluation.information_placement.swap_test`), and a row is the mean accuracy over those
four factors; chance is 22.9 % (1/3, 1/3, 1/8, 1/8), and the row "real images" is the readouts'
own ceiling, where the paper's classifier had 95 %. The notes give the same mean for the local
factors (sprite and background colour; chance 18.3 %), which replacing z_l should change and
replacing z_g keep. Swaps use posterior means, replaced by one N(0, I) draw per image. Each seed
also prints (and `--out` keeps) the reconstructions' error on sprite and on background pixels and
the share of sprite pixels drawn nearer the sprite's colour: whether the model draws a sprite at all. The model
is the config `auxiliary_vae_coloured_dsprites` (β = 1, 4-px patches, 8 + 8 dims, conv encoders
and decoders, discretized-logistic pixels, Adam(1e-4), batch 64; layer sizes are not in the
paper). The paper gives no training length; `paper` uses the config's 100,000 steps.

Budgets (steps × batch, seeds; images per readout fit and per condition): smoke 2 × 8, 1 seed, 64
(CI only); cpu 500 × 64, 2 seeds, 2,000 (measured: 5.6 minutes on 2 shared cores, 0.63 s per step
of the two conv members together); paper 100,000 × 64, 3 seeds, 5,000. The cpu budget is too short
to mean anything for this model: it learns each image's background colour but draws no sprite, so
every generated condition reads the global factors near chance. That is not a bug but a plateau of
the discretized-logistic likelihood: the per-pixel scales collapse onto the background within a
few hundred steps, after which the location is fitted like a median and the sprite, on under 5 %
of the pixels, is absorbed into a wider scale; even a decoder given the true factors does not draw
it at these lengths, while the same decoder with a Bernoulli likelihood, or with the scale held
wide, does (the finding in `reproduce/RESULTS.md`). The seeds are one sweep in
`<workdir>/auxiliary_vae` (`disentax.runner.sweep.train_sweep`), so a rerun resumes the training
and only tests again.
"""
from __future__ import annotations

import time
from typing import Sequence

import _harness as h
import jax
import numpy as np

from disentax import methods
from disentax.data.coloured_dsprites import GLOBAL_FACTORS, LOCAL_FACTORS, sprite_coverage
from disentax.data.registry import get_dataset
from disentax.evaluation.information_placement import swap_images, swap_test
from disentax.runner.sweep import member_config, train_sweep

SCRIPT = "auxiliary_swap_coloured_dsprites"
BUDGETS = {
    "smoke": h.Budget(steps=2, batch=8, seeds=1, extra={"swap_examples": 64}),
    "cpu": h.Budget(steps=500, batch=64, seeds=2,
                    extra={"swap_examples": 2_000, "note": "too short to mean anything: no sprite drawn yet (a plateau of "
                                                           "the discretized logistic, see the finding)"}),
    "paper": h.Budget(steps=100_000, batch=64, seeds=3, extra={"swap_examples": 5_000}),
}
# (swap_test condition, row label, the paper's accuracy %)
CONDITIONS = [
    ("data", "real images", "95"),
    ("reconstruction", "reconstructions", "86"),
    ("z_l_from_prior", "z_l replaced by N(0, I)", "80"),
    ("z_g_from_prior", "z_g replaced by N(0, I)", "11"),
]
# The swap test's images and readouts are drawn from this key (folded with the seed).
SWAP_KEY = 2019


def chance(dataset, factors) -> float:
    """Mean over `factors` of the accuracy of guessing (1 / number of values; the factors are uniform)."""
    return float(np.mean([1.0 / dataset.factor_sizes[dataset.factor_index(f)] for f in factors]))


def sprite_drawing(key, model, params, dataset, patch: int, n: int) -> dict:
    """Whether the reconstructions draw the sprite: mean absolute error per channel on the pixels
    the sprite covers fully and on pure background, and the share of sprite pixels whose
    reconstruction is nearer the sprite's colour than the background's."""
    k_data, k_swap = jax.random.split(key)
    x, f = dataset.sample(k_data, n)
    rec = np.asarray(swap_images(model, params, k_swap, x, patch=patch)["reconstruction"])
    x, cover = np.asarray(x), np.asarray(sprite_coverage(f))[..., 0]
    sprite, background = cover > 0.99, cover == 0
    err = np.abs(rec - x).mean(-1)
    bg_colour = np.broadcast_to(x[:, :1, :1, :], x.shape)[sprite]  # dSprites leave the corner pixel free
    nearer = np.linalg.norm(rec[sprite] - x[sprite], axis=-1) < np.linalg.norm(rec[sprite] - bg_colour, axis=-1)
    return {"error_sprite": float(err[sprite].mean()), "error_background": float(err[background].mean()),
            "sprite_pixels_drawn": float(nearer.mean())}


def run(budget: h.Budget, workdir) -> list[dict]:
    """Train the seeds as one sweep and run the swap test with each; rows {"seed", "swap_test", ...}."""
    c = h.budget_config("auxiliary_vae_coloured_dsprites", budget)
    c.auxiliary_vae.swap_examples = budget.extra["swap_examples"]
    t = time.perf_counter()
    trained = train_sweep(c, workdir / "auxiliary_vae", num_seeds=budget.seeds)
    h.progress(f"auxiliary_vae ({budget.describe()}): trained to step {trained['step']} "
               f"({time.perf_counter() - t:.0f} s)")
    dataset = get_dataset(c.dataset)
    rows = []
    for i, member in enumerate(trained["members"]):
        if i in trained["diverged"]:  # member index -> the step its loss turned non-finite
            rows.append({"seed": member["seed"], "diverged": True})
            continue
        t = time.perf_counter()
        mc = member_config(c, member)
        model = methods.build(mc, dataset).model
        params = jax.tree.map(lambda a, i=i: a[i], trained["states"].params)
        key = jax.random.fold_in(jax.random.PRNGKey(SWAP_KEY), member["seed"])
        result = swap_test(key, model, params, dataset, int(mc.auxiliary_vae.patch), n=budget.extra["swap_examples"])
        drawing = sprite_drawing(jax.random.fold_in(key, 1), model, params, dataset, int(mc.auxiliary_vae.patch),
                                 budget.extra["swap_examples"])
        means = {cond: {"global": float(np.mean([acc[f] for f in GLOBAL_FACTORS])),
                        "local": float(np.mean([acc[f] for f in LOCAL_FACTORS]))} for cond, acc in result.items()}
        rows.append({"seed": member["seed"], "diverged": False, "swap_test": result, "means": means, **drawing,
                     "last_metrics": trained["metrics"][i] if trained["metrics"] else {}})
        h.progress(f"seed={member['seed']}: global / local factors read back % "
                   + ", ".join(f"{cond} {100 * m['global']:.1f} / {100 * m['local']:.1f}" for cond, m in means.items())
                   + f"; reconstruction error on sprite / background pixels {drawing['error_sprite']:.3f} / "
                   f"{drawing['error_background']:.3f}, sprite pixels drawn {100 * drawing['sprite_pixels_drawn']:.0f} %"
                   f" ({time.perf_counter() - t:.0f} s)")
    return rows


def main(argv: Sequence[str] | None = None) -> list[list[str]]:
    """Run the budget named on the command line, print and append the rows; returns them."""
    args, budget = h.parse_args(SCRIPT, __doc__, BUDGETS, argv)
    rows = run(budget, args.workdir)
    dataset = get_dataset("coloured_dsprites")
    good = [r for r in rows if not r["diverged"]]
    diverged = len(rows) - len(good)
    chance_g, chance_l = chance(dataset, GLOBAL_FACTORS), chance(dataset, LOCAL_FACTORS)
    measured = []
    for cond, label, paper in CONDITIONS:
        local = [r["means"][cond]["local"] for r in good]
        note = (budget.extra.get("note", "") + ("; " if budget.extra.get("note") else "") + f"coloured dSprites, not SVHN: mean of linear readouts of shape, scale, x, y (chance "
                f"{100 * chance_g:.1f}); colours read back {100 * np.mean(local):.1f} % (chance {100 * chance_l:.1f})"
                if local else "coloured dSprites, not SVHN")
        if diverged:
            note += f"; {diverged} seed(s) diverged, left out"
        measured.append(h.Measured(f"global factors read back % ({label})", paper,
                                   [r["means"][cond]["global"] for r in good], scale=100.0, note=note))
    return h.report(SCRIPT, args, budget, measured,
                    {"runs": rows, "chance": {"global": chance_g, "local": chance_l}})


if __name__ == "__main__":
    main()
