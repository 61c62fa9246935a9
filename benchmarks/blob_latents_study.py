"""Burgess et al. (2018), Fig. 2: on Gaussian blobs (two factors, x and y), the plain VAE spreads
position over four latents, β-VAE (β = 150) over two. One resumable command.

Trains `vae_gaussian_blobs` and `beta_vae_gaussian_blobs`, then encodes all 1,024 images and prints,
per model, the mean KL of each latent over the dataset (exact: every image once, posterior in
closed form) in decreasing order and the number of latents holding more than `--threshold` nats.
Draws, as the figure's heat maps, each used latent's posterior mean over the 32 x 32 positions
(`<out>.png`), and writes `--out` (JSON).

    python benchmarks/blob_latents_study.py --workdir runs/blobs [--steps 20000] [--out benchmarks/results/blobs.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from disentax import config as cfg  # noqa: E402
from disentax import distributions as dist  # noqa: E402
from disentax.runner.evaluate import restore_run  # noqa: E402
from disentax.runner.loop import train  # noqa: E402

MODELS = {"vae": "vae_gaussian_blobs", "beta_vae_150": "beta_vae_gaussian_blobs"}
PAPER = {"vae": 4, "beta_vae_150": 2}


def latent_usage(workdir: Path):
    """(mean KL per latent [D], posterior means on the 32 x 32 grid [32, 32, D]) of a run."""
    _, method, dataset, state = restore_run(workdir)
    grid = np.stack(np.meshgrid(np.arange(32), np.arange(32), indexing="ij"), -1).reshape(-1, 2)  # [x, y]
    x = dataset.render(jnp.asarray(grid))
    post = jax.jit(method.posterior)(method.scored_params(state), x)
    kl = np.asarray(dist.gaussian_kl(post.mean, post.logvar)).mean(0)
    return kl, np.asarray(post.mean).reshape(32, 32, -1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--threshold", type=float, default=0.1, help="nats that make a latent 'used'")
    p.add_argument("--out", default="benchmarks/results/blobs.json")
    a = p.parse_args()
    root = Path(a.workdir)
    rows = {}
    for name, config_name in MODELS.items():
        work = root / name
        if not (work / "checkpoints").exists() or not (work / "reconstructions.png").exists():
            t = time.perf_counter()
            train(cfg.get(config_name, [f"--config.num_steps={a.steps}", "--config.progress=false",
                                        f"--config.checkpoint_every={max(a.steps // 10, 1)}"]), work)
            print(f"# {name}: {time.perf_counter() - t:.0f} s", flush=True)
        kl, means = latent_usage(work)
        order = np.argsort(-kl)
        rows[name] = {"kl_sorted": kl[order].tolist(), "order": order.tolist(),
                      "used": int(np.sum(kl > a.threshold)), "means": means[..., order].tolist()}
    print(f"\n| model | latents > {a.threshold:g} nats | KL per latent, high to low (nats) | paper (Fig. 2) |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        kls = ", ".join(f"{v:.2f}" for v in r["kl_sorted"][:6])
        print(f"| {name} | {r['used']} | {kls}, ... | {PAPER[name]} latents |")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"steps": a.steps, "threshold": a.threshold,
                               **{n: {k: v for k, v in r.items() if k != "means"} for n, r in rows.items()}}, indent=1))
    _plot(rows, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = max(max(r["used"], 2) for r in rows.values())
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.1 * cols, 2.3 * len(rows)), squeeze=False)
    for i, (name, r) in enumerate(rows.items()):
        means = np.asarray(r["means"])
        for j in range(cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < max(r["used"], 2):
                # Rows of the heat map are y, columns x: the blob's position on the canvas.
                ax.imshow(means[:, :, j].T, cmap="bwr", vmin=-3, vmax=3, origin="upper")
                ax.set_title(f"{name}: z{r['order'][j]} ({r['kl_sorted'][j]:.1f} nats)", fontsize=8)
            else:
                ax.axis("off")
    fig.suptitle("Posterior mean of each used latent over the blob's position (cf. Burgess et al. 2018, Fig. 2)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
