"""The β-sweep study of Peychev, Veličković & Liò (2018), "Quantifying the effects of enforcing
disentanglement on variational autoencoders": disentanglement against β for four kinds of
autoencoder, and digit classification from the codes against β.

    python benchmarks/beta_sweep_study.py --workdir runs/beta_sweep                 # the paper's grid (GPU)
    python benchmarks/beta_sweep_study.py --workdir runs/beta_sweep_cpu --cpu       # the CPU-sized version

Part 1 (Sec. 3.1, Fig. 1). On the three-shapes grid (`three_shapes`: square / ellipse / triangle,
16 x 16 positions, 6 scales, 60 rotations over [0, π], duplicates removed, the 70 % training split),
β-VAEs are trained for β = 0, 0.2, ..., 5 with 5 seeds each, as four sweeps (one program each,
`disentax.runner.sweep`): fully connected (`mlp`) and convolutional (`conv`), plain and denoising
(salt and pepper on up to 20 % of the pixels, `config.model.salt_and_pepper`). Each member is
scored with the metric the paper uses: pairs differing in one randomly chosen factor, feature
|z₁ − z₂| / max, a linear classifier of the changed factor (`beta_vae_changed`); its held-out
accuracy, mean ± sd over the seeds, is plotted against β per kind (`disentanglement_vs_beta.png`).

Part 2 (Sec. 3.2, Fig. 2). The paper trains autoencoders on 10 % and 30 % of MNIST and fits an SVM
on the codes. Offline there is only scikit-learn's 8x8 digits: β-VAEs (fully connected; conv with
two stride-2 layers) are trained on a stratified 10 % or 30 % of its training split
(`digits_10pct`, `digits_30pct`) for β = 0, 0.1, ..., 4, then an RBF SVM (`sklearn.svm.SVC`,
default settings) is fitted on the encoder means of those same images and scored on the test
split (`svm_accuracy_vs_beta.png`).

The paper gives no latent size, networks, optimiser or training length: 10 latents, the library's
networks and Adam 1e-4 (`configs/beta_vae_three_shapes.py`) at full size; `--cpu` shrinks the
networks, the β grid, the seeds and the steps to fit a shared 2-core machine (numbers in
`benchmarks/RESULTS.md`). Every sweep resumes from its folder, and scores already computed are
reused, so an interrupted study picks up where it stopped.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from disentax import config as cfg  # noqa: E402
from disentax import methods  # noqa: E402
from disentax.data.digits import Digits  # noqa: E402
from disentax.data.registry import get_dataset  # noqa: E402
from disentax.runner.sweep import train_sweep  # noqa: E402
from disentax.runner.sweep_scores import evaluate_sweep  # noqa: E402

KINDS = {"fc": ("mlp", 0.0), "fc_denoising": ("mlp", 0.2), "conv": ("conv", 0.0), "conv_denoising": ("conv", 0.2)}
METRIC = "beta_vae_changed.eval_accuracy"


def grid(text: str) -> list[float]:
    """'0:5:0.2' (start:stop:step, stop included) or '0,1,4' -> values."""
    if ":" in text:
        a, b, s = (float(v) for v in text.split(":"))
        n = int(round((b - a) / s))
        return [round(a + i * s, 6) for i in range(n + 1)]
    return [float(v) for v in text.split(",")]


def shapes_config(kind: str, args) -> "cfg.ml_collections.ConfigDict":
    encoder, noise = KINDS[kind]
    over = [f"--config.model.encoder={encoder}", f"--config.model.salt_and_pepper={noise}",
            f"--config.num_steps={args.steps}", f"--config.batch_size={args.batch}", "--config.progress=False",
            f"--config.log_every={max(1, args.steps // 10)}", f"--config.checkpoint_every={max(1, args.steps // 4)}"]
    if args.cpu:
        over += ["--config.model.mlp_hidden=(256,256)", "--config.model.conv_channels=(16,16,32,32)",
                 "--config.model.hidden=(128,)", "--config.diagnostics_points=0"]
    return cfg.get("beta_vae_three_shapes", over)


def digits_config(encoder: str, percent: int, args):
    c = cfg.base_config("beta_vae")
    c.dataset = f"digits_{percent}pct"
    c.model.encoder = encoder
    c.model.mlp_hidden = (256, 256)
    c.model.conv_channels = (32, 32)  # two stride-2 layers: 8 -> 4 -> 2
    c.model.hidden = (128,)
    c.optimizer.learning_rate = 1e-3
    c.num_steps, c.batch_size = args.digits_steps, 64
    c.log_every, c.checkpoint_every, c.progress = max(1, args.digits_steps // 5), args.digits_steps, False
    c.diagnostics_points = 0
    return cfg.validate(c)


def part_shapes(args, out: dict) -> None:
    betas = grid(args.betas)
    for kind in args.kinds:
        work = Path(args.workdir) / "shapes" / kind
        t0 = time.time()
        train_sweep(shapes_config(kind, args), work, args.seeds, [f"beta={','.join(map(str, betas))}"],
                    note=lambda m: print(f"  [{kind}] {m}", flush=True))
        trained = time.time() - t0
        scored = evaluate_sweep(work, "beta_vae_changed", num_train=args.metric_train, num_eval=args.metric_eval,
                                udr_points=0, plots=False)
        rows = [{"kind": kind, "beta": r["beta_vae.beta"], "seed": r["seed"], "score": r.get(METRIC)}
                for r in scored["table"]]
        out["shapes"] = [r for r in out.get("shapes", []) if r["kind"] != kind] + rows
        out.setdefault("wall_s", {})[f"shapes_{kind}"] = round(time.time() - t0, 1)
        print(f"{kind}: {len(rows)} models trained in {trained:.0f} s, scored in {time.time() - t0 - trained:.0f} s",
              flush=True)
        for b in betas:
            vals = [r["score"] for r in rows if r["beta"] == b and r["score"] is not None]
            print(f"  β={b:<4} {_mean_sd(vals)}", flush=True)
        _save(args, out)


def part_digits(args, out: dict) -> None:
    from sklearn.svm import SVC

    betas = grid(args.digits_betas)
    test = Digits("test")
    for encoder in args.digits_encoders:
        for percent in args.digits_percents:
            config = digits_config(encoder, percent, args)
            work = Path(args.workdir) / "digits" / f"{encoder}_{percent}pct"
            t0 = time.time()
            result = train_sweep(config, work, args.seeds, [f"beta={','.join(map(str, betas))}"],
                                 note=lambda m: print(f"  [digits {encoder} {percent}%] {m}", flush=True))
            train = get_dataset(config.dataset)
            method = methods.build(config, train)
            code = method.code(method.default_code)
            encode = jax.jit(code.representation)
            params = result["states"].params
            rows = []
            for i, m in enumerate(result["members"]):
                p = jax.tree.map(lambda a, i=i: np.asarray(a)[i], params)
                z_train = np.asarray(encode(p, train.images))
                z_test = np.asarray(encode(p, test.images))
                ok = np.all(np.isfinite(z_train)) and np.all(np.isfinite(z_test))
                acc = None
                if ok:
                    svm = SVC().fit(z_train, train.np_labels)
                    acc = float(np.mean(svm.predict(z_test) == test.np_labels))
                rows.append({"encoder": encoder, "percent": percent, "beta": m["beta_vae.beta"], "seed": m["seed"],
                             "accuracy": acc})
            out["digits"] = [r for r in out.get("digits", []) if (r["encoder"], r["percent"]) != (encoder, percent)]
            out["digits"] += rows
            out.setdefault("wall_s", {})[f"digits_{encoder}_{percent}"] = round(time.time() - t0, 1)
            line = "  ".join(f"{b:g}: {_mean_sd([r['accuracy'] for r in rows if r['beta'] == b], 3)}"
                             for b in betas[:: max(1, len(betas) // 6)])
            print(f"digits {encoder} {percent}%: {line}", flush=True)
            _save(args, out)


def _mean_sd(values, digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def _save(args, out: dict) -> None:
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    plot(out, Path(args.workdir))


def plot(out: dict, folder: Path) -> None:
    """Fig. 1: the metric against β per kind (mean ± sd, seeds as dots); Fig. 2: SVM accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    shapes = out.get("shapes", [])
    kinds = [k for k in KINDS if any(r["kind"] == k for r in shapes)]
    if kinds:
        fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds), 3.2), sharey=True, squeeze=False)
        for ax, kind in zip(axes[0], kinds):
            rows = [r for r in shapes if r["kind"] == kind and r["score"] is not None]
            betas = sorted({r["beta"] for r in rows})
            vals = [[r["score"] for r in rows if r["beta"] == b] for b in betas]
            ax.errorbar(betas, [np.mean(v) for v in vals], yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals],
                        marker="o", capsize=3)
            ax.scatter([r["beta"] for r in rows], [r["score"] for r in rows], s=8, color="grey", alpha=0.6)
            ax.set_title(kind.replace("_", " "))
            ax.set_xlabel("β")
            ax.axhline(1 / 5, color="k", lw=0.5, ls=":")  # chance: five factors
        axes[0][0].set_ylabel("changed-factor accuracy")
        fig.tight_layout()
        fig.savefig(folder / "disentanglement_vs_beta.png", dpi=120)
        plt.close(fig)
    digits = out.get("digits", [])
    if digits:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for encoder, percent in sorted({(r["encoder"], r["percent"]) for r in digits}):
            rows = [r for r in digits if (r["encoder"], r["percent"]) == (encoder, percent) and r["accuracy"] is not None]
            betas = sorted({r["beta"] for r in rows})
            vals = [[r["accuracy"] for r in rows if r["beta"] == b] for b in betas]
            ax.errorbar(betas, [np.mean(v) for v in vals], yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals],
                        marker=".", capsize=2, label=f"{'fc' if encoder == 'mlp' else encoder}, {percent} %")
        ax.set_xlabel("β")
        ax.set_ylabel("SVM test accuracy")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "svm_accuracy_vs_beta.png", dpi=120)
        plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", required=True)
    p.add_argument("--out", default=None, help="the JSON of every model's score (default WORKDIR/beta_sweep.json)")
    p.add_argument("--cpu", action="store_true", help="the CPU-sized study: smaller networks and grid, fewer steps")
    p.add_argument("--betas", default=None, help="three-shapes β grid, start:stop:step or a list (paper 0:5:0.2)")
    p.add_argument("--seeds", type=int, default=None, help="models per β (paper 5)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--kinds", default=",".join(KINDS), help=f"of {', '.join(KINDS)}")
    p.add_argument("--metric-train", type=int, default=None, help="metric training pairs (default 10,000)")
    p.add_argument("--metric-eval", type=int, default=None, help="metric held-out pairs (default 5,000)")
    p.add_argument("--digits-betas", default=None, help="digits β grid (paper 0:4:0.1)")
    p.add_argument("--digits-steps", type=int, default=None)
    p.add_argument("--digits-encoders", default="mlp,conv")
    p.add_argument("--digits-percents", default="10,30")
    p.add_argument("--parts", default="shapes,digits")
    args = p.parse_args(argv)
    full = dict(betas="0:5:0.2", seeds=5, steps=100_000, batch=64, metric_train=10_000, metric_eval=5_000,
                digits_betas="0:4:0.1", digits_steps=20_000)
    small = dict(betas="0:5:1", seeds=2, steps=800, batch=32, metric_train=2_000, metric_eval=1_000,
                 digits_betas="0:4:0.2", digits_steps=2_000)
    for k, v in (small if args.cpu else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        p.error(f"--kinds {','.join(unknown)}: allowed {', '.join(KINDS)}")
    args.digits_encoders = [e for e in args.digits_encoders.split(",") if e]
    args.digits_percents = [int(v) for v in args.digits_percents.split(",") if v]
    args.out = args.out or str(Path(args.workdir) / "beta_sweep.json")
    out = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    out["protocol"] = {k: getattr(args, k) for k in ("cpu", "betas", "seeds", "steps", "batch", "kinds", "metric_train",
                                                     "metric_eval", "digits_betas", "digits_steps", "digits_encoders",
                                                     "digits_percents")}
    out["backend"] = jax.default_backend()
    parts = args.parts.split(",")
    if "shapes" in parts:
        part_shapes(args, out)
    if "digits" in parts:
        part_digits(args, out)
    _save(args, out)
    print(f"wrote {args.out} and the pictures in {args.workdir}")


if __name__ == "__main__":
    main()
