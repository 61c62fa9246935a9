"""Sanity table: β-VAE, β-TCVAE and FactorVAE, trained briefly on procedural dSprites, scored by every metric.

    python benchmarks/metrics_sanity.py                          # 1500 steps each, the full protocol
    python benchmarks/metrics_sanity.py --steps 800 --pair-scale 0.2
    python benchmarks/metrics_sanity.py --steps 5 --scale 0.02 --out /tmp/s.md   # does it run?

Each method trains from its dSprites config (published hyperparameters, conv model) for ``--steps``
steps at batch 64, seed 0, with ``disentax.runner.train``; then ``evaluate_run`` scores it with every
metric but mig_exact (hours on a CPU), ``dci_importance="lightgbm"`` (which also gives the downstream
task LightGBM), at the default protocol: 10,000 train / 5,000 test points, 10,000 for FactorVAE's
variances. ``--pair-scale`` < 1 runs beta_vae and factor_vae, whose points are each a batch of 64
examples (1.9 M and 1 M encoded images at the protocol, most of the evaluation's time on a CPU), at
that fraction of their train and eval points instead; every other metric stays at the protocol, and
each entry of the JSON says what it was computed with.

A few thousand steps are a fraction of the 300,000 of the published runs, so the numbers say whether
the metrics tell the methods apart sensibly, not what the methods reach. Writes a markdown table
(one row per method, one column per headline score) to ``benchmarks/results/metrics_sanity.md`` and
everything, per-metric wall times included, to ``metrics_sanity.json`` beside it. Run folders go to
``--workdir``; a folder already trained to ``--steps`` is scored without training again.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

# Run from a checkout: import the disentax next to this folder, not an installed one.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from disentax import config as cfg  # noqa: E402
from disentax.metrics.suite import ALL_METRICS, METRICS_VERSION, package_versions  # noqa: E402
from disentax.runner import evaluate_run, train  # noqa: E402

METHODS = {"beta_vae": "beta_vae_dsprites", "beta_tcvae": "beta_tcvae_dsprites", "factor_vae": "factor_vae_dsprites"}
PAIR_METRICS = ("beta_vae", "factor_vae")
# (column, metric, score key); TC is the only one where lower is better.
COLUMNS = (
    ("MIG", "mig", "mig"),
    ("DCI D", "dci", "disentanglement"),
    ("DCI C", "dci", "completeness"),
    ("DCI I", "dci", "informativeness_test"),
    ("SAP", "sap", "sap"),
    ("Mod.", "modularity", "modularity"),
    ("β-VAE", "beta_vae", "eval_accuracy"),
    ("FactorVAE", "factor_vae", "eval_accuracy"),
    ("IRS", "irs", "irs"),
    ("DCI-ES E", "dci_es", "explicitness"),
    ("DCI-ES S", "dci_es", "size"),
    ("InfoM", "infomec", "infom"),
    ("InfoC", "infomec", "infoc"),
    ("InfoE", "infomec", "infoe"),
    ("MCC", "mcc", "mcc"),
    ("TC ↓", "unsupervised", "gaussian_total_correlation"),
    ("down. LGBM@1000", "downstream", "lightgbm/1000:mean_test_accuracy"),
)
RESULTS = Path(__file__).resolve().parent / "results"


def method_config(name: str, steps: int):
    """The method's dSprites config, shortened to `steps` steps, batch 64, seed 0, no progress bar."""
    c = cfg.load_config_file(METHODS[name])
    c.num_steps, c.batch_size, c.seed, c.progress = int(steps), 64, 0, False
    c.checkpoint_every = int(steps)  # one checkpoint, the one evaluated
    c.log_every = min(100, int(steps))
    return c


def _sizes(scale: float) -> dict:
    return {"num_train": max(2, int(10_000 * scale)), "num_eval": max(2, int(5_000 * scale)),
            "num_variance_estimate": max(2, int(10_000 * scale))}


def score_method(name: str, workdir: Path, steps: int, pair_scale: float, scale: float = 1.0) -> dict:
    """Train (unless already at `steps`) and score one method; its headline scores, timings and record.

    `scale` multiplies every protocol size (a quick look; 1 for the table), `pair_scale` further the
    train and eval points of beta_vae and factor_vae (not FactorVAE's variance points)."""
    t = time.perf_counter()
    result = train(method_config(name, steps), workdir, finish=False)
    train_s = time.perf_counter() - t
    print(f"{name}: step {result['step']} in {train_s:.0f} s, loss {result['metrics'].get('loss', float('nan')):.2f}",
          flush=True)
    wall, clock = {}, {}

    def start(record):
        clock["t"] = time.perf_counter()

    def done(metric, scores):
        now = time.perf_counter()
        wall[metric] = round(now - clock["t"], 1)
        clock["t"] = now
        print(f"  {metric}: {wall[metric]} s", flush=True)

    names = [m for m in ALL_METRICS if m != "mig_exact"]
    reduced = pair_scale < 1.0
    first = [m for m in names if not (reduced and m in PAIR_METRICS)]
    sizes = _sizes(scale)
    record = evaluate_run(workdir, first, dci_importance="lightgbm", on_start=start, on_result=done, **sizes)
    if reduced:
        pair = _sizes(scale * pair_scale)
        pair["num_variance_estimate"] = sizes["num_variance_estimate"]
        record = evaluate_run(workdir, list(PAIR_METRICS), dci_importance="lightgbm", on_start=start,
                              on_result=done, **pair)
    headline = {col: record["metrics"][metric].get(key) for col, metric, key in COLUMNS}
    return {"step": result["step"], "train_s": round(train_s, 1), "train_metrics": result["metrics"],
            "metric_s": wall, "headline": headline, "metrics": record["metrics"]}


def _cell(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def markdown(rows: dict, settings: dict) -> str:
    """The markdown report: settings, the table of headline scores, and the wall time of each metric."""
    main, pair = _sizes(settings["scale"]), _sizes(settings["scale"] * settings["pair_scale"])
    protocol = ("the full protocol" if settings["scale"] >= 1 else f"{settings['scale']:g} of the protocol")
    protocol += f" ({main['num_train']:,} train / {main['num_eval']:,} test points)"
    if settings["pair_scale"] < 1:
        protocol += (f", beta_vae and factor_vae at {pair['num_train']:,} / {pair['num_eval']:,} points "
                     "(each a batch of 64 examples)")
    lines = [
        "# Metric sanity table",
        "",
        f"`python benchmarks/metrics_sanity.py --steps {settings['steps']} --scale {settings['scale']:g} "
        f"--pair-scale {settings['pair_scale']:g}`: "
        f"each method trained {settings['steps']} steps (batch 64, seed 0, its dSprites config) on procedural "
        f"dSprites, then scored with every metric but mig_exact at {protocol}, DCI and the downstream task "
        f"with LightGBM; metrics_version {settings['metrics_version']}. {settings['steps']} steps are a sliver of "
        "the published 300,000: a check that the metrics run and order the methods sensibly, not a benchmark of "
        "the methods. TC (Gaussian total correlation of the codes) is lower-is-better; the rest higher.",
        "",
        "| method | " + " | ".join(c for c, _, _ in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row["headline"][c]) for c, _, _ in COLUMNS) + " |")
    metrics = list(next(iter(rows.values()))["metric_s"])
    lines += ["", "Wall time (s; CPU, shared): training, then each metric (sampling and encoding included).", "",
              "| method | train | " + " | ".join(metrics) + " |", "|---|" + "---:|" * (len(metrics) + 1)]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['train_s']:.0f} | " + " | ".join(f"{row['metric_s'][m]:.0f}" for m in metrics)
                     + " |")
    v = settings["versions"]
    lines += ["", "Machine: " + settings["machine"] + ". Versions: " + ", ".join(f"{k} {v[k]}" for k in v) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    """Train and score the methods named on the command line, then write the markdown and JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500, help="training steps per method (1500)")
    p.add_argument("--pair-scale", type=float, default=1.0,
                   help="fraction of beta_vae's and factor_vae's protocol points (1 = the protocol)")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of every protocol size (a quick look; 1)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"subset of {', '.join(METHODS)}")
    p.add_argument("--workdir", default="/tmp/disentax_metrics_sanity", help="parent of the run folders")
    p.add_argument("--out", default=str(RESULTS / "metrics_sanity.md"), help="markdown file; the JSON goes beside it")
    args = p.parse_args(argv)
    for flag in ("scale", "pair_scale"):
        if not 0.0 < getattr(args, flag) <= 1.0:
            raise SystemExit(f"--{flag.replace('_', '-')} must be in (0, 1], got {getattr(args, flag)}")
    names = [n.strip() for n in args.methods.split(",") if n.strip()]
    bad = [n for n in names if n not in METHODS]
    if bad:
        raise SystemExit(f"unknown method {bad[0]!r}; allowed: {', '.join(METHODS)}")
    settings = {"steps": args.steps, "batch_size": 64, "seed": 0, "scale": args.scale, "pair_scale": args.pair_scale,
                "dci_importance": "lightgbm", "metrics_version": METRICS_VERSION, "versions": package_versions(),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"}
    t = time.perf_counter()
    rows = {name: score_method(name, Path(args.workdir) / name, args.steps, args.pair_scale, args.scale)
            for name in names}
    settings["total_s"] = round(time.perf_counter() - t, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, settings)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"settings": settings, "methods": rows}, indent=2, sort_keys=True))
    print(text)
    print(f"wrote {out} and {out.with_suffix('.json')} in {settings['total_s']:.0f} s")


if __name__ == "__main__":
    main()
