"""What every reproduction script shares: budgets, arguments, timing, the device, mean ± sd over
seeds, the printed line and the row appended to `reproduce/RESULTS.md`.

A script declares its budgets (`Budget`: steps, batch, seeds and its own knobs) for `smoke` (seconds,
what CI runs), `cpu` (minutes on a 2-core CPU) and `paper` (the published length, for a GPU/TPU),
trains through the library's resumable runs in `--workdir` (a rerun resumes instead of retraining),
and hands its numbers to `report`. Rows go to `--results` (default `reproduce/RESULTS.md`, or the
file named by `$DISENTAX_RESULTS`), so tests write theirs to a temporary file.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import jax
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from disentax import config as cfg  # noqa: E402
from disentax.methods.registry import set_path  # noqa: E402
from disentax.runner.loop import NonFiniteLossError, run_keys, train  # noqa: E402
from disentax.runner.sweep import train_sweep  # noqa: E402
from disentax.runner.sweep_scores import evaluate_sweep  # noqa: E402
from disentax.train.logging import read_json  # noqa: E402

BUDGET_NAMES = ("smoke", "cpu", "paper")
RESULTS = ROOT / "reproduce" / "RESULTS.md"
COLUMNS = ("date", "script", "metric", "paper", "measured (mean ± sd, n)", "budget (steps × batch, seeds)",
           "device", "wall time", "note")
RESULTS_HEADER = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long a script trains: `steps` per run, `batch`, `seeds` (runs per setting) and the
    script's own knobs in `extra` (metric sample sizes, the grid, ...)."""

    steps: int
    batch: int
    seeds: int
    extra: dict = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        """"2,000 × 100, 3 seeds": the budget column."""
        return f"{self.steps:,} × {self.batch}, {self.seeds} seed{'s' if self.seeds != 1 else ''}"


@dataclasses.dataclass(frozen=True)
class Measured:
    """One headline: what is measured, the paper's number (as the paper states it) and the values
    over seeds. `scale` turns a fraction into a percentage for printing (100) or leaves it (1)."""

    metric: str
    paper: str
    values: Sequence[float]
    note: str = ""
    scale: float = 1.0
    digits: int = 1


def budget_config(name: str, budget: Budget, overrides: dict | None = None):
    """The config `name` of `configs/` at the budget's steps and batch, without a progress bar,
    checkpointed four times and logged ten times over the run, with `overrides` ({"group.key":
    value}) set on top."""
    c = cfg.load_config_file(name)
    c.num_steps, c.batch_size, c.progress = budget.steps, budget.batch, False
    c.checkpoint_every, c.log_every = max(budget.steps // 4, 1), max(budget.steps // 10, 1)
    for key, value in (overrides or {}).items():
        set_path(c, key, value)
    return c


def parse_args(script: str, doc: str, budgets: dict[str, Budget], argv: Sequence[str] | None = None):
    """The command line shared by every script: `--budget`, `--seeds`, `--workdir`, `--out`,
    `--results`. Returns (args, budget); `args.workdir` defaults to `runs/reproduce/<script>/<budget>`
    so a rerun of the same command resumes."""
    missing = [b for b in BUDGET_NAMES if b not in budgets]
    if missing:
        raise ValueError(f"{script}: no budget for {missing}")
    p = argparse.ArgumentParser(prog=f"reproduce/{script}.py", description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="cpu", choices=BUDGET_NAMES,
                   help="smoke: seconds (CI); cpu: minutes on a 2-core CPU; paper: the published length (GPU/TPU)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per setting (default: the budget's)")
    p.add_argument("--workdir", default=None, help="run folders; a rerun with the same folder resumes")
    p.add_argument("--out", default=None, help="also write every measured number as JSON here")
    p.add_argument("--results", default=None,
                   help="markdown file to append the rows to (default $DISENTAX_RESULTS or reproduce/RESULTS.md)")
    args = p.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        p.error(f"--seeds must be at least 1, got {args.seeds}")
    budget = budgets[args.budget]
    if args.seeds is not None:
        budget = dataclasses.replace(budget, seeds=int(args.seeds))
    if args.workdir is None:
        args.workdir = str(ROOT / "runs" / "reproduce" / script / args.budget)
    args.workdir = Path(args.workdir)
    args.results = Path(args.results or os.environ.get("DISENTAX_RESULTS") or RESULTS)
    args.started = time.perf_counter()
    return args, budget


def device_description() -> str:
    """"1× cpu", "8× tpu (TPU v4)": what `jax.devices()` holds, for the device column."""
    devices = jax.devices()
    kinds = sorted({d.device_kind for d in devices} - {jax.default_backend()})
    return f"{len(devices)}× {jax.default_backend()}" + (f" ({', '.join(kinds)})" if kinds else "")


def mean_sd(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, sample standard deviation, n); the sd is NaN for one value (no spread to show)."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("mean_sd of no values")
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
    return m, sd, len(v)


def format_measured(m: Measured) -> str:
    """"12.3 ± 1.4 (n=3)"; one seed gives "12.3 (n=1)", none (all diverged) "n/a (n=0)"."""
    if not m.values:
        return "n/a (n=0)"
    mean, sd, n = mean_sd([x * m.scale for x in m.values])
    spread = "" if math.isnan(sd) else f" ± {sd:.{m.digits}f}"
    return f"{mean:.{m.digits}f}{spread} (n={n})"


def format_wall(seconds: float) -> str:
    """"42 s", "3.5 min", "1.2 h"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def progress(message: str) -> None:
    """The one line printed as each run finishes."""
    print(f"  {message}", flush=True)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def append_rows(path: Path, rows: Sequence[Sequence[str]]) -> None:
    """Append markdown rows to `path`, writing the table's header first if the file has none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else ""
    with path.open("a") as f:
        if RESULTS_HEADER.splitlines()[0] not in text:
            f.write(("\n" if text and not text.endswith("\n\n") else "") + RESULTS_HEADER)
        for row in rows:
            if len(row) != len(COLUMNS):
                raise ValueError(f"a results row has {len(COLUMNS)} columns, got {len(row)}")
            f.write("| " + " | ".join(_cell(c) for c in row) + " |\n")


def report(script: str, args, budget: Budget, measured: Sequence[Measured], extra: dict | None = None) -> list[list[str]]:
    """Print "paper X · measured Y ± s (n seeds) · budget …" per headline, append one row each to
    `args.results`, and write everything (with `extra`) to `args.out` when given. Returns the rows."""
    wall = time.perf_counter() - args.started
    device = device_description()
    date = datetime.date.today().isoformat()
    rows = []
    for m in measured:
        value = format_measured(m)
        print(f"{script}: {m.metric}: paper {m.paper} · measured {value} · budget {args.budget} "
              f"({budget.describe()}) · {device} · {format_wall(wall)}", flush=True)
        rows.append([date, f"{script} --budget {args.budget}", m.metric, m.paper, value, budget.describe(), device,
                     format_wall(wall), m.note])
    append_rows(args.results, rows)
    print(f"{script}: {len(rows)} rows appended to {args.results}", flush=True)
    if args.out:
        record = {"script": script, "budget": args.budget, "steps": budget.steps, "batch": budget.batch,
                  "seeds": budget.seeds, "extra": budget.extra, "device": device, "wall_s": wall,
                  "headlines": [dataclasses.asdict(m) | {"values": [float(v) for v in m.values]} for m in measured],
                  **(extra or {})}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=2, default=float))
    return rows


def sweep_and_score(config, workdir: Path, seeds: int, grid: dict, metric: str, num_train: int, num_eval: int) -> dict:
    """Train the sweep (`disentax.runner.sweep.train_sweep`, resuming what `workdir` holds) and score
    every member with `metric` (`evaluate_sweep`, which reuses the scores of an earlier evaluation of
    the same checkpoint). Returns {"trained" (train_sweep's result), "scored" (evaluate_sweep's)}."""
    t = time.perf_counter()
    trained = train_sweep(config, workdir, num_seeds=seeds, grid=grid)
    scored = evaluate_sweep(workdir, metric, num_train=num_train, num_eval=num_eval, plots=False, udr_points=0)
    what = ", ".join(f"{k.rpartition('.')[2]}={v}" for k, v in grid.items()) or "no grid"
    progress(f"{config.method} ({what}; {seeds} seeds): {len(trained['members'])} members trained to step "
             f"{trained['step']} and scored ({time.perf_counter() - t:.0f} s)")
    return {"trained": trained, "scored": scored}


def train_and_evaluate(config, workdir: Path) -> tuple[dict, object]:
    """Train (or resume) one run: (its evaluation, its method). The evaluation is the one
    `evaluation.json` holds when training wrote it at the run's last step (and no `disentax evaluate`
    with another seed has replaced it since), else the one training computes as it ends."""
    workdir = Path(workdir)
    written = read_json(workdir / "evaluation.json")
    if written is not None and written.get("step") == int(config.num_steps) and "seed" not in written:
        out = train(config, workdir, finish=False)  # resumes at the last step: nothing to train
        if int(out["step"]) == int(config.num_steps):
            return written, out["method"]
    out = train(config, workdir)
    return out["evaluation"], out["method"]


def train_seed(config_name: str, budget: Budget, seed: int, workdir: Path, rows: list, **labels):
    """Train (or resume) `config_name` at `budget` with `seed` in `workdir`: (config, evaluation,
    method). A run whose loss went non-finite appends {"seed", **labels, "diverged": step} to `rows`,
    says so, and returns None (the scripts leave it out of the numbers)."""
    config = budget_config(config_name, budget, budget.extra["overrides"])
    config.seed = seed
    try:
        evaluation, method = train_and_evaluate(config, workdir)
    except NonFiniteLossError as e:
        rows.append({"seed": seed, **labels, "diverged": e.step})
        progress(f"{' '.join([f'seed={seed}', *map(str, labels.values())])}: diverged at step {e.step}; left out")
        return None
    return config, evaluation, method


def untrained_evaluation(method, config) -> dict:
    """The method's evaluation of the run's networks at step 0 (their initial parameters), from the
    same keys as the trained run's: what the scores read before any training."""
    init_key, data_key, _, viz_key = run_keys(int(config.seed))
    state = method.init_state(init_key, method.sample_batch(data_key, int(config.batch_size)))
    variables = jax.tree.map(np.asarray, method.scored_params(state))
    return method.evaluations(variables, jax.random.split(viz_key)[1])
