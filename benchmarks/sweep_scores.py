"""Seconds to score a sweep's S members in one call against S separate `disentax evaluate` runs.

    python benchmarks/sweep_scores.py                       # S = 4 MLP β-VAE members, the full protocol
    python benchmarks/sweep_scores.py --num-train 2000 --num-eval 1000 --reps 1    # quick look

Trains (once, `--steps` steps) a sweep of S members (2 β values × S/2 seeds, the MLP encoder, batch
64), exports every member as a run folder, then times, in alternation `--reps` times:

* **one call**: `sweep_scores.evaluate_sweep` on the sweep folder (each batch a metric draws rendered
  once and encoded by all members together; `--metrics` with no UDR);
* **separately**: `evaluate_run` on each exported member folder, one after another (what a user of
  separate runs does).

Both score the same metrics at the same protocol and seed, so they compute the same numbers (checked
at the end); the ratio is separate time over one-call time. Writes JSON lines to
``benchmarks/results/sweep_scores.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402

from disentax import config as cfg  # noqa: E402
from disentax.runner import evaluate_run, sweep, sweep_scores  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4, help="S (even: 2 β values × S/2 seeds)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--metrics", default="mig,sap,dci,irs,mcc,beta_vae,factor_vae")
    parser.add_argument("--dci-importance", default="lightgbm")
    parser.add_argument("--num-train", type=int, default=10_000)
    parser.add_argument("--num-eval", type=int, default=5_000)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sweep_scores.jsonl"))
    args = parser.parse_args(argv)
    names = args.metrics.split(",")
    protocol = dict(num_train=args.num_train, num_eval=args.num_eval, num_variance_estimate=args.num_train,
                    dci_importance=args.dci_importance)
    root = Path(tempfile.mkdtemp(prefix="sweep_scores_"))
    try:
        config = cfg.get("beta_vae_dsprites", [f"--config.num_steps={args.steps}", "--config.batch_size=64",
                                               "--config.model.encoder=mlp", "--config.progress=False",
                                               f"--config.checkpoint_every={args.steps}",
                                               f"--config.log_every={args.steps}"])
        workdir = root / "sweep"
        sweep.train_sweep(config, workdir, args.members // 2, ["beta=1,8"])
        runs = [sweep.export_member(workdir, i, root / f"member{i}") for i in range(args.members)]
        together, apart = [], []
        for rep in range(args.reps):
            (workdir / sweep_scores.RESULTS_JSONL).unlink(missing_ok=True)  # score again, not reuse
            t0 = time.perf_counter()
            shared = sweep_scores.evaluate_sweep(workdir, names, udr_points=0, plots=False, **protocol)
            together.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            alone = [evaluate_run(run, names, **protocol) for run in runs]
            apart.append(time.perf_counter() - t0)
            print(f"round {rep}: one call {together[-1]:.1f} s, separately {apart[-1]:.1f} s "
                  f"({apart[-1] / together[-1]:.2f}x)", flush=True)
        for i, record in enumerate(alone):
            mine = sweep_scores.flat_scores(shared["rows"][i]["metrics"])
            theirs = sweep_scores.flat_scores(record["metrics"])
            worst = max(abs(mine[k] - theirs[k]) for k in theirs)
            print(f"member {i}: largest |difference| of a score between the two: {worst:.2e}")
        ratios = [a / t for a, t in zip(apart, together)]
        row = {"members": args.members, "metrics": names, **protocol, "steps": args.steps,
               "one_call_s": together, "separately_s": apart, "ratio_median": statistics.median(ratios),
               "ratios": ratios, "backend": jax.default_backend(), "machine": platform.machine(),
               "date": time.strftime("%Y-%m-%d")}
        print(json.dumps(row))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
