"""Small weak-supervision sweeps on the scikit-learn digits (CPU, minutes).

1. Semi-supervised VAE (Siddharth et al. 2017, Fig. 5 protocol): held-out classification error of
   q(y|x) against the labelled-set size l (per class) and the supervision rate r, for α = 0
   (Siddharth et al.'s Eq. 4 alone) and the config's α.
2. ML-VAE (Bouchacourt et al. 2018, Fig. 7 protocol): accuracy / H(y|code) bound of a logistic
   regression of the digit trained on content codes, on style codes, and on a plain VAE's code,
   against k.

    python benchmarks/weak_supervision_digits.py [--steps 2000] [--out results.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from disentax import config as cfg  # noqa: E402
from disentax.data.digits import Digits  # noqa: E402
from disentax.evaluation import weak_supervision as ev  # noqa: E402
from disentax.runner.loop import train  # noqa: E402
from disentax.runner.studies import semi_supervised_sweep  # noqa: E402


def semi_supervised(steps: int, ls, rs, alphas, seeds, workdir):
    test = Digits("test")
    rows = []
    for alpha in alphas:
        c = cfg.load_config_file("semi_supervised_digits")
        c.num_steps, c.checkpoint_every, c.log_every = steps, steps, max(steps // 10, 1)
        c.semi_supervised.alpha = float(alpha)
        t = time.perf_counter()
        for row in semi_supervised_sweep(c, ls, rs, seeds, test.images, test.np_labels, workdir / f"ss_a{alpha}"):
            rows.append({"alpha": alpha, **row})
        print(f"# alpha={alpha}: {time.perf_counter() - t:.0f} s", flush=True)
    print("\n| α | l | r | test error (%) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['alpha']:g} | {r['labels_per_class']} | {r['supervision_rate']:g} | {100 * r['error']:.1f} |")
    return rows


def ml_vae(steps: int, workdir, seed: int = 0):
    train_ds, test = Digits("train"), Digits("test")
    c = cfg.load_config_file("ml_vae_digits")
    c.num_steps, c.checkpoint_every, c.log_every, c.progress, c.seed = steps, steps, max(steps // 10, 1), False, seed
    ml = train(cfg.validate(c), workdir / "ml_vae")
    v = cfg.base_config("vae")
    v.dataset, v.batch_size, v.num_steps, v.seed = "digits", 100, steps, seed
    v.model.encoder, v.model.mlp_hidden, v.model.latent_dim = "mlp", (500,), c.ml_vae.style_dim + c.ml_vae.content_dim
    v.optimizer.learning_rate, v.checkpoint_every, v.log_every, v.progress = 1e-3, steps, max(steps // 10, 1), False
    vae = train(cfg.validate(v), workdir / "vae", finish=False)
    content, style = ev.ml_vae_encoder(ml["method"].model, ml["state"].params)
    encoders = {"content": content, "style": style, "vae": ev.vae_encoder(vae["method"].model, vae["state"].params)}
    rows = ev.content_style_accuracy(encoders, train_ds.np_images, train_ds.np_labels, test.np_images, test.np_labels,
                                     ks=(1, 2, 3, 5, 10), train_k=10, seed=seed)
    print("\n| code | k | accuracy (%) | H(y|code) bound (bits) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['code']} | {r['k']} | {100 * r['accuracy']:.1f} | {r['cond_entropy_bits']:.2f} |")
    print(f"\nML-VAE pictures in {workdir / 'ml_vae'}")
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--workdir", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--labels", default="1,3,10")
    p.add_argument("--rates", default="0.01,0.1,0.5")
    p.add_argument("--alphas", default="0,50")
    p.add_argument("--seeds", default="0")
    p.add_argument("--skip", default="", help="comma list of parts to skip: ss, ml")
    a = p.parse_args()
    tmp = tempfile.TemporaryDirectory() if a.workdir is None else None
    workdir = Path(tmp.name if tmp else a.workdir)
    out = {}
    if "ss" not in a.skip:
        out["semi_supervised"] = semi_supervised(
            a.steps, [int(v) for v in a.labels.split(",")], [float(v) for v in a.rates.split(",")],
            [float(v) for v in a.alphas.split(",")], [int(v) for v in a.seeds.split(",")], workdir)
    if "ml" not in a.skip:
        out["ml_vae"] = ml_vae(a.steps, workdir)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
