"""Fault injection: interrupt real `disentax train` processes at chosen moments, resume, and count
what survived.

    python benchmarks/interruptions.py --trials 3 [--out benchmarks/results/interruptions.json]

Cases (each run `--trials` times, a fresh run folder every time):
  startup-INT / startup-TERM    SIGINT / SIGTERM during start-up (imports, compilation, restore)
  midstep-INT / midstep-TERM    a signal between two logged steps, at a random moment
  logstep-INT                   SIGINT the moment a metrics row appears
  ckptwrite-TERM                SIGTERM the moment a checkpoint write starts (orbax's temporary folder)
  ckptwrite-KILL                kill -9 the moment a checkpoint write starts

Each interrupted run is then resumed with the same command to the end, and compared with one
uninterrupted run of the same command:
  clean_exit     the interrupted process ended by the rules (130/143 after a signal, killed by -9),
                 not by a crash (a traceback, a segfault) or by training on regardless
  message_true   what it said it saved is on disk (a checkpoint of the step it names; no claim when
                 nothing was saved)
  rows_complete  metrics.jsonl of the resumed run has exactly the uninterrupted run's rows
  resumed_exact  the final parameters equal the uninterrupted run's bit for bit

Runs against whatever `disentax` the Python in use imports (set PYTHONPATH to compare versions).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from disentax.runner.restore import restore_run  # the version under test (see PYTHONPATH)

STEPS, CKPT, LOG = 60, 10, 5
ARGS = ["--config", "beta_vae_dsprites", f"--config.num_steps={STEPS}", f"--config.checkpoint_every={CKPT}",
        f"--config.log_every={LOG}", "--config.batch_size=16", "--config.model.encoder=mlp",
        "--config.model.mlp_hidden=(32,)", "--config.progress=false"]
CASES = ("startup-INT", "startup-TERM", "midstep-INT", "midstep-TERM", "logstep-INT", "ckptwrite-TERM",
         "ckptwrite-KILL")


def _start(workdir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.setdefault("JAX_PLATFORMS", "cpu")
    return subprocess.Popen([sys.executable, "-m", "disentax.cli", "train", "--workdir", str(workdir), *ARGS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _rows(workdir: Path) -> int:
    path = workdir / "metrics.jsonl"
    try:
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    except OSError:
        return 0


def _writing_checkpoint(workdir: Path) -> bool:
    d = workdir / "checkpoints"
    try:
        return any("tmp" in p.name for p in d.iterdir())
    except OSError:
        return False


def _steps_on_disk(workdir: Path) -> list[int]:
    d = workdir / "checkpoints"
    try:
        return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit() and any(p.iterdir()))
    except OSError:
        return []


def _wait_for(cond, proc, timeout=120.0, poll=0.0005) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if cond():
            return True
        time.sleep(poll)
    return False


def _interrupt(case: str, workdir: Path, rng: random.Random) -> dict:
    kind, sig = case.split("-")
    signum = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}[sig]
    proc = _start(workdir)
    hit = True
    if kind == "startup":
        time.sleep(rng.uniform(0.5, 4.0))
        hit = _rows(workdir) == 0
    elif kind == "midstep":
        hit = _wait_for(lambda: _rows(workdir) >= 1, proc)
        time.sleep(rng.uniform(0.0, 0.2))
    elif kind == "logstep":
        hit = _wait_for(lambda: _rows(workdir) >= 1, proc)
        n = _rows(workdir)
        hit = hit and _wait_for(lambda: _rows(workdir) > n, proc)
    elif kind == "ckptwrite":
        hit = _wait_for(lambda: _writing_checkpoint(workdir), proc)
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return {"case": case, "hit_moment": bool(hit), "rc": proc.returncode, "stdout": out, "stderr": err,
            "steps_on_disk": _steps_on_disk(workdir)}


def _message_true(result: dict, workdir: Path) -> bool:
    err, steps = result["stderr"], result["steps_on_disk"]
    named = re.search(r"checkpoint (?:at step )?(\d+) (?:is )?saved", err)
    if named:
        return int(named.group(1)) in steps
    if re.search(r"checkpoint saved", err):  # a claim without a step: the newest must cover the rows logged
        rows = [json.loads(line)["step"] for line in (workdir / "metrics.jsonl").read_text().splitlines()
                if line.strip()] if (workdir / "metrics.jsonl").exists() else []
        return bool(steps) and (not rows or max(steps) >= max(rows))
    return True  # no claim


def _clean_exit(result: dict, signum: str) -> bool:
    rc, err = result["rc"], result["stderr"]
    if "Traceback" in err or rc in (-11, 139):
        return False
    if signum == "KILL":
        return rc == -9
    return rc in (130, 143, -2, -15)


def _final(workdir: Path):
    _, _, _, state = restore_run(workdir)
    return [np.asarray(leaf) for leaf in jax.tree.leaves(state)]


def _records(workdir: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in (json.loads(line) for line in
                                              (workdir / "metrics.jsonl").read_text().splitlines() if line.strip())]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    root = Path(tempfile.mkdtemp(prefix="disentax-interruptions-"))
    ref = root / "reference"
    proc = _start(ref)
    out, err = proc.communicate()
    if proc.returncode != 0:
        print(err, file=sys.stderr)
        return 1
    ref_params, ref_rows = _final(ref), _records(ref)
    table = {}
    for case in a.cases.split(","):
        counts = {"trials": 0, "hit_moment": 0, "clean_exit": 0, "message_true": 0, "rows_complete": 0,
                  "resumed_exact": 0}
        for t in range(a.trials):
            workdir = root / f"{case}-{t}"
            result = _interrupt(case, workdir, rng)
            counts["trials"] += 1
            counts["hit_moment"] += result["hit_moment"]
            counts["clean_exit"] += _clean_exit(result, case.split("-")[1])
            counts["message_true"] += _message_true(result, workdir)
            resume = _start(workdir)
            r_out, r_err = resume.communicate(timeout=600)
            if resume.returncode == 0:
                counts["rows_complete"] += _records(workdir) == ref_rows
                got = _final(workdir)
                counts["resumed_exact"] += len(got) == len(ref_params) and all(
                    np.array_equal(x, y) for x, y in zip(got, ref_params))
            else:
                print(f"# {case} trial {t}: resume failed rc={resume.returncode}: {r_err.strip()[-300:]}",
                      file=sys.stderr)
            if not _clean_exit(result, case.split("-")[1]):
                print(f"# {case} trial {t}: rc={result['rc']} {result['stderr'].strip()[-300:]}", file=sys.stderr)
        table[case] = counts
        print(f"{case:<16} " + "  ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
