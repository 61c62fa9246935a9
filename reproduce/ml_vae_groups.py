"""Bouchacourt et al. (2018), Fig. 7: how well ML-VAE content codes, style codes and a plain VAE's
code classify the digit, against the number k of test images accumulated per class, on the
scikit-learn 8×8 digits.

    python reproduce/ml_vae_groups.py --budget smoke|cpu|paper [--seeds N] [--workdir D]

The paper's result (Fig. 7, MNIST; a figure, no number in the text): the content code classifies
the digit better than the VAE's code at small k, both improve as evidence is accumulated over k
images, and the style code "remains uninformative about the class" (flat in k, near the 10 % of
chance for ten digits). The rows name what the figure shows in place of a number.

What departs from the paper: the digits (1,438 training, 359 held-out 8×8 images) stand in for
MNIST; the classifier is scikit-learn's logistic regression (`disentax.evaluation.weak_supervision.
content_style_accuracy`), not the paper's small network; training features accumulate K = 10
images per class (strategy 2). The models are `configs/ml_vae_digits.py` (10 + 10 dims, groups of
10 sharing the digit, Bernoulli likelihood where the paper had a Gaussian with learned variance) and
a plain VAE of the same width (one 500-unit layer, 20 latents). The paper does not state its
training length; `paper` uses the config's 5,000 steps.

Budgets (steps × batch, seeds): smoke 20 × 100, 1 seed, k = 1 / 10 (seconds, CI only); cpu
2,000 × 100, 3 seeds, k = 1 / 2 / 3 / 5 / 10 (a few minutes on 2 cores); paper 5,000 × 100,
5 seeds. Runs go to `<workdir>/s<seed>/{ml_vae,vae}` through `disentax.runner.loop.train`, so a
rerun resumes them and only scores again.
"""
from __future__ import annotations

import time
from typing import Sequence

import _harness as h

from disentax import config as cfg
from disentax.data.digits import Digits
from disentax.evaluation import weak_supervision as ev
from disentax.runner.loop import train

SCRIPT = "ml_vae_groups"
TRAIN_K = 10
BUDGETS = {
    "smoke": h.Budget(steps=20, batch=100, seeds=1, extra={"ks": (1, 10)}),
    "cpu": h.Budget(steps=2_000, batch=100, seeds=3, extra={"ks": (1, 2, 3, 5, 10)}),
    "paper": h.Budget(steps=5_000, batch=100, seeds=5, extra={"ks": (1, 2, 3, 5, 10)}),
}
# What Fig. 7 shows for each headline (no number is printed in the paper).
PAPER = {
    ("content", "low"): "Fig. 7: above the VAE's at small k",
    ("content", "high"): "Fig. 7: rises with k",
    ("style", "high"): "Fig. 7: flat in k, uninformative (chance 10)",
    ("vae", "low"): "Fig. 7: below content at small k",
    ("vae", "high"): "Fig. 7: rises with k",
}


def _configs(budget: h.Budget, seed: int):
    ml = cfg.load_config_file("ml_vae_digits")
    ml.num_steps, ml.batch_size, ml.seed, ml.progress = budget.steps, budget.batch, seed, False
    vae = cfg.base_config("vae")
    vae.dataset, vae.batch_size, vae.num_steps, vae.seed, vae.progress = "digits", budget.batch, budget.steps, seed, False
    vae.model.encoder, vae.model.mlp_hidden = "mlp", tuple(ml.model.mlp_hidden)
    vae.model.latent_dim = ml.ml_vae.style_dim + ml.ml_vae.content_dim  # the same code size as content + style
    vae.optimizer.learning_rate = ml.optimizer.learning_rate
    for c in (ml, vae):
        c.checkpoint_every, c.log_every = max(budget.steps // 4, 1), max(budget.steps // 10, 1)
    return cfg.validate(ml), cfg.validate(vae)


def run(budget: h.Budget, workdir) -> list[dict]:
    """Train an ML-VAE and a VAE per seed and score their codes; rows {"seed", "code", "k", "accuracy", ...}."""
    train_ds, test = Digits("train"), Digits("test")
    rows = []
    for seed in range(budget.seeds):
        t = time.perf_counter()
        ml_config, vae_config = _configs(budget, seed)
        ml = train(ml_config, workdir / f"s{seed}" / "ml_vae", finish=False)
        vae = train(vae_config, workdir / f"s{seed}" / "vae", finish=False)
        content, style = ev.ml_vae_encoder(ml["method"].model, ml["state"].params)
        encoders = {"content": content, "style": style, "vae": ev.vae_encoder(vae["method"].model, vae["state"].params)}
        scored = ev.content_style_accuracy(encoders, train_ds.np_images, train_ds.np_labels, test.np_images,
                                           test.np_labels, ks=budget.extra["ks"], train_k=TRAIN_K, seed=seed)
        rows += [{"seed": seed, **r} for r in scored]
        at = {(r["code"], r["k"]): 100 * r["accuracy"] for r in scored}
        lo, hi = min(budget.extra["ks"]), max(budget.extra["ks"])
        h.progress(f"seed={seed}: accuracy % content {at['content', lo]:.1f} (k={lo}) → {at['content', hi]:.1f} "
                   f"(k={hi}), style {at['style', hi]:.1f}, vae {at['vae', lo]:.1f} → {at['vae', hi]:.1f} "
                   f"({time.perf_counter() - t:.0f} s)")
    return rows


def main(argv: Sequence[str] | None = None) -> list[list[str]]:
    """Run the budget named on the command line, print and append the rows; returns them."""
    args, budget = h.parse_args(SCRIPT, __doc__, BUDGETS, argv)
    rows = run(budget, args.workdir)
    ks = {"low": min(budget.extra["ks"]), "high": max(budget.extra["ks"])}
    measured = [h.Measured(f"{code} code accuracy % at k={ks[end]}", paper,
                           [r["accuracy"] for r in rows if r["code"] == code and r["k"] == ks[end]], scale=100.0,
                           note=f"digits, not MNIST; logistic regression on K={TRAIN_K}-image features")
                for (code, end), paper in PAPER.items()]
    return h.report(SCRIPT, args, budget, measured, {"runs": rows})


if __name__ == "__main__":
    main()
