"""End to end: steps/s of the training run a user starts, against a PyTorch training loop.

    python benchmarks/end_to_end.py [--batches 64,256] [--methods beta_vae,beta_tcvae]
        [--reps 5] [--warmup 20] [--steps 100] [--before PATH] [--out results/end_to_end.jsonl]

Each runner lives in its own worker process (so XLA's and torch's thread pools never share one)
and the runners are timed in alternation, `reps` rounds, so load drifts hit all of them alike:

- ``disentax``: `disentax.runner.train` (what `disentax train` runs) on procedural dSprites with the
  method's config at the given batch, in a fresh run folder each round; `warmup` + `steps` steps,
  `log_every = warmup`, timed from the first metrics row to the last, so compilation and the first
  steps are excluded and the loop's logging steps (diagnostics, host sync, metrics row) are in.
- ``disentax@before`` (with `--before PATH`): the same from another checkout of the library (its
  path first on `sys.path`), to measure a change of the loop in the same run.
- ``torch/memory``: `torch_reference.make_loop` — the same network, loss and Adam, its dSprites
  images (rendered by disentax, 16,384 of them) in memory as one float tensor, shuffled epochs.
- ``torch/loader``: the same loop reading those images through a `DataLoader` over a map-style
  dataset (one item converted per `__getitem__`, default `num_workers=0`), as research code does.

And, from the current library in the disentax worker, the parts of a step (medians of `steps`
calls, each blocked on): the jitted step alone on a fixed batch without and with its diagnostics
(`log=False/True`), the batch sampler alone, and the diagnostics alone. The loop's own overhead
is the loop's time per step minus the step alone (the batch is made inside the step's program).

Ratios are what this measures; absolute times on a shared machine swing by 2x. Results are
appended to `--out` as one JSON line per (method, batch) and printed as a table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NUM_IMAGES = 16_384
# The environment before this process imports disentax (whose import may add XLA:CPU flags,
# `disentax.xla_flags`): each worker starts from it, so a `--before` checkout runs as it would.
USER_ENV = dict(os.environ)


# ----------------------------------------------------------------------------- the disentax worker


def _serve_jax(method: str, batch: int) -> None:
    """Worker: `loop W S` -> seconds per step of train() after W steps; `parts N` -> JSON of part times."""
    import jax

    from disentax import config as cfg
    from disentax.runner import train

    def config(num_steps: int, log_every: int):
        c = cfg.load_config_file(f"{method}_dsprites")
        c.batch_size, c.num_steps, c.log_every = batch, num_steps, log_every
        c.checkpoint_every, c.progress = 10 * num_steps, False
        return c

    print("ready", flush=True)
    for line in sys.stdin:
        kind, *args = line.split()
        if kind == "loop":
            warmup, steps = int(args[0]), int(args[1])
            with tempfile.TemporaryDirectory() as tmp:
                train(config(warmup + steps, warmup), Path(tmp) / "run", finish=False, note=lambda _: None)
                rows = [json.loads(r) for r in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
            timed = rows[1:]  # the first row's interval holds the compilation
            seconds = sum((r["step"] - p["step"]) / r["steps_per_sec"] for p, r in zip(rows, timed))
            print(repr(seconds / (rows[-1]["step"] - rows[0]["step"])), flush=True)
        elif kind == "parts":
            print(json.dumps(_parts(config(1, 1), int(args[0]), jax)), flush=True)


def _parts(config, n: int, jax) -> dict:
    from disentax import methods
    from disentax.data.registry import get_dataset
    from disentax.methods.vae import decomposition_diagnostics

    dataset = get_dataset(config.dataset)
    method = methods.build(config, dataset)
    key = jax.random.PRNGKey(0)
    sample = jax.jit(lambda k: method.sample_batch(k, int(config.batch_size)))
    batch = sample(key)
    state = method.init_state(key, batch)
    step = jax.jit(method.train_step)
    outputs = method.model.apply({"params": state.params}, batch, key)
    diagnostics = jax.jit(decomposition_diagnostics(dataset, int(config.batch_size)))
    calls = {
        "step": lambda i: step(state, batch, jax.random.fold_in(key, i), False),
        "step_with_diagnostics": lambda i: step(state, batch, jax.random.fold_in(key, i), True),
        "batch": lambda i: sample(jax.random.fold_in(key, i)),
        "diagnostics": lambda i: diagnostics(outputs),
    }
    times = {}
    for name, call in calls.items():
        jax.block_until_ready(call(0))
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            jax.block_until_ready(call(i + 1))
            samples.append(time.perf_counter() - t0)
        times[name] = float(np.median(samples))
    return times


class JaxWorker:
    """The disentax worker in a subprocess, importing the library from `path` first."""

    def __init__(self, method: str, batch: int, path: Path = ROOT):
        env = dict(USER_ENV, PYTHONPATH=os.pathsep.join([str(path), USER_ENV.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-jax", "--methods", method,
                                      "--batches", str(batch)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, cwd=path)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the disentax worker for {path} did not start")

    def ask(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the disentax worker died on {line!r}")
        return answer

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


# ----------------------------------------------------------------------------- the run


def render_images(path: Path) -> None:
    """16,384 procedural dSprites images as uint8 {0, 255} [N, 64, 64], for the torch loops."""
    import jax

    from disentax.data.registry import get_dataset

    images = get_dataset("dsprites").sample(jax.random.PRNGKey(0), NUM_IMAGES)[0]
    np.save(path, (np.asarray(images)[..., 0] * 255).round().astype(np.uint8))


def measure(method: str, batch: int, args, images: Path) -> dict:
    sys.path.insert(0, str(HERE))
    from torch_reference import TorchWorker

    jax_new = JaxWorker(method, batch)
    runners = {"disentax": lambda: float(jax_new.ask(f"loop {args.warmup} {args.steps}"))}
    workers = [jax_new]
    if args.before:
        jax_old = JaxWorker(method, batch, Path(args.before).resolve())
        runners["disentax@before"] = lambda: float(jax_old.ask(f"loop {args.warmup} {args.steps}"))
        workers.append(jax_old)
    for data in ("memory", "loader"):
        worker = TorchWorker(batch, method=method, loop=(str(images), data))
        worker(args.warmup)
        runners[f"torch/{data}"] = lambda w=worker: w(args.steps)
        workers.append(worker)
    samples = {name: [] for name in runners}
    parts = []
    try:
        for rep in range(args.reps):
            for name, run in runners.items():
                time.sleep(0.05)  # let the previous runner's thread pool go idle
                samples[name].append(run())
            parts.append(json.loads(jax_new.ask(f"parts {max(3, args.steps // 10)}")))
            print(f"  {method} batch {batch} round {rep + 1}/{args.reps}: "
                  + ", ".join(f"{n} {1 / s[-1]:.2f}/s" for n, s in samples.items()), flush=True)
    finally:
        for w in workers:
            w.close()
    steps_per_s = {name: 1.0 / float(np.median(s)) for name, s in samples.items()}
    per_round = {name: [float(s[i] / samples["disentax"][i]) for i in range(args.reps)]
                 for name, s in samples.items() if name != "disentax"}
    part = {k: float(np.median([p[k] for p in parts])) for k in parts[0]}
    loop_s = float(np.median(samples["disentax"]))
    part["loop_overhead"] = loop_s - part["step"]
    return {"method": method, "batch": batch, "reps": args.reps, "warmup": args.warmup, "steps": args.steps,
            "steps_per_s": steps_per_s, "speedup_vs": {n: float(np.median(r)) for n, r in per_round.items()},
            "speedup_per_round": per_round, "seconds_per_step_samples": samples, "parts_s": part,
            "before": args.before, "machine": _machine(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} host cores, load average {load:.1f} at the end"


def report(rows: list[dict]) -> str:
    others = [n for n in rows[0]["steps_per_s"] if n != "disentax"]
    head = ("| method | batch | disentax steps/s | " + " | ".join(f"{n} steps/s" for n in others)
            + " | " + " | ".join(f"× {n}" for n in others) + " | step | +diagnostics | batch | diagnostics | loop overhead |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        p = {k: f"{1e3 * v:.1f} ms" for k, v in r["parts_s"].items()}
        lines.append(f"| {r['method']} | {r['batch']} | {r['steps_per_s']['disentax']:.2f} | "
                     + " | ".join(f"{r['steps_per_s'][n]:.2f}" for n in others) + " | "
                     + " | ".join(f"{r['speedup_vs'][n]:.2f}×" for n in others)
                     + f" | {p['step']} | {p['step_with_diagnostics']} | {p['batch']} | {p['diagnostics']} | "
                     f"{p['loop_overhead']} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="64,256")
    p.add_argument("--methods", default="beta_vae,beta_tcvae")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--before", default=None, help="another checkout of disentax to time in the same run")
    p.add_argument("--out", default=str(HERE / "results" / "end_to_end.jsonl"))
    p.add_argument("--serve-jax", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_jax:
        _serve_jax(args.methods, int(args.batches))
        return
    if args.steps % args.warmup:
        p.error("--steps must be a multiple of --warmup (the loop logs every --warmup steps)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "dsprites.npy"
        render_images(images)
        for batch in [int(b) for b in args.batches.split(",")]:
            for method in args.methods.split(","):
                rows.append(measure(method, batch, args, images))
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                with open(args.out, "a") as f:
                    f.write(json.dumps(rows[-1]) + "\n")
    print(report(rows))


if __name__ == "__main__":
    main()
