"""Ridgeway & Mozer (2018) on identity sprites: the F-statistic loss against the triplet loss, by
5-fold cross-validation over identities, as one resumable script.

For each loss and fold it trains `<loss>_identity_sprites` with that fold held out and reads its
evaluation.json: Recall@k among the held-out identities (the paper's Fig. 2 / CUHK03 protocol:
F-statistic 90.5 ± 0.4 % Recall@1 vs 86.3 ± 0.6 % for the histogram loss), and for each attribute
value the AUC of the best single embedding dimension (the paper's Fig. 3: 17 values x 5 folds = 85
AUCs per loss, the F-statistic loss's closer to 1). Here: 12 values (3 shapes, 3 scales, 6
colours) x the folds run.

Prints a Markdown table (mean ± standard error over folds), writes `--out` (JSON) and, next to it,
a Fig. 3-style picture of the AUC distributions (`<out>.png`). Each run is a run folder under
`--workdir`; an interrupted study resumes each run from its checkpoint, and finished runs are read
back from their evaluation.json.

    python benchmarks/embedding_study.py --workdir runs/embedding_study [--folds 5] [--steps 10000]
        [--losses f_statistic,triplet] [--out benchmarks/results/embedding.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from disentax import config as cfg  # noqa: E402
from disentax.runner.loop import train  # noqa: E402


def _run(loss: str, fold: int, steps: int, workdir: Path, extra: list[str]) -> dict:
    done = workdir / "evaluation.json"
    if not done.exists():
        t = time.perf_counter()
        over = [f"--config.{loss}.fold={fold}", f"--config.num_steps={steps}",
                f"--config.checkpoint_every={max(steps // 10, 1)}", f"--config.log_every={max(steps // 20, 1)}",
                "--config.progress=false", *extra]
        train(cfg.get(f"{loss}_identity_sprites", over), workdir)
        print(f"# {workdir.name}: {time.perf_counter() - t:.0f} s", flush=True)
    return json.loads(done.read_text())


def _mean_se(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")


def summarise(results: dict[str, list[dict]]) -> dict:
    """Per loss: Recall@k mean and standard error over folds, and every best-dimension AUC."""
    out = {}
    for loss, runs in results.items():
        ks = list(runs[0]["recall_at_k"])
        out[loss] = {
            "folds": len(runs),
            "recall_at_k": {k: _mean_se([r["recall_at_k"][k] for r in runs]) for k in ks},
            "recall_at_k_training_identities": {
                k: _mean_se([r["recall_at_k_training_identities"][k] for r in runs]) for k in ks},
            "aucs": [v["auc"] for r in runs for v in r["best_dimension_auc"].values()],
        }
    return out


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0.5, 1.0, 21)
    for loss, s in summary.items():
        ax.hist(s["aucs"], bins=bins, alpha=0.55, label=f"{loss} ({len(s['aucs'])} AUCs)")
    ax.set_xlabel("AUC of the best single dimension for an attribute value")
    ax.set_ylabel("count")
    ax.set_title("Best single-dimension AUC per attribute value (cf. Ridgeway & Mozer, Fig. 3)", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", required=True, help="study folder (resumed)")
    p.add_argument("--folds", type=int, default=5, help="folds run (of 5), from fold 0")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--losses", default="f_statistic,triplet")
    p.add_argument("--out", default="benchmarks/results/embedding.json")
    p.add_argument("overrides", nargs="*", help="further --config.KEY=VALUE overrides for every run")
    a = p.parse_args()
    root = Path(a.workdir)
    losses = [s for s in a.losses.split(",") if s]
    results = {loss: [_run(loss, f, a.steps, root / f"{loss}_fold{f}", a.overrides) for f in range(a.folds)]
               for loss in losses}
    summary = summarise(results)
    ks = list(next(iter(summary.values()))["recall_at_k"])
    print("\n| loss | folds | " + " | ".join(f"Recall@{k}" for k in ks) + " | best-dim AUC mean (min) |")
    print("|---|---|" + "---|" * len(ks) + "---|")
    for loss, s in summary.items():
        cells = [f"{100 * m:.1f} ± {100 * se:.1f} %" for m, se in s["recall_at_k"].values()]
        print(f"| {loss} | {s['folds']} | " + " | ".join(cells) + f" | {np.mean(s['aucs']):.3f} ({min(s['aucs']):.3f}) |")
    print("paper (CUHK03, 5 folds): F-statistic Recall@1 90.5 ± 0.4 %, histogram 86.3 ± 0.6 %; sprites: Fig. 3 only")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"steps": a.steps, "summary": summary, "runs": results}, indent=1))
    plot(summary, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
