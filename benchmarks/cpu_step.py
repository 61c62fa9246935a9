"""β-VAE step at one batch size: each equivalent layer implementation vs the PyTorch reference.

    python benchmarks/cpu_step.py --batch 64 --reps 7 --steps 3 [--method beta_vae,beta_tcvae] [--out results.jsonl]

Times every (downsample, upsample) pair and the torch reference (in its own worker process,
so the two thread pools do not fight) in alternation within one run, and prints medians
and ratios to torch; the default (auto) choice is marked.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

if "--threads" in sys.argv:  # XLA reads its thread settings when the backend starts
    _n = sys.argv[sys.argv.index("--threads") + 1]
    if _n == "1":
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from common import JaxStep, device_note, method_config, time_interleaved

from disentax.models import layers

PAIRS = [("conv", "conv_transpose"), ("conv", "subpixel"), ("conv", "matmul"),
         ("s2d", "subpixel"), ("matmul", "matmul"), ("s2d", "matmul")]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per runner first (torch needs a few)")
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--method", default="beta_vae", help="a method, or a comma list timed in one interleaved run")
    p.add_argument("--pairs", default=None, help="comma list of down/up, e.g. conv/conv_transpose,matmul/matmul")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--threads", type=int, default=None,
                   help="1: both frameworks single-threaded (fairer on a loaded machine); default: their defaults")
    a = p.parse_args()
    pairs = PAIRS if a.pairs is None else [tuple(s.split("/")) for s in a.pairs.split(",")]
    method_names = a.method.split(",")
    runners, torch_of = {}, {}
    for method in method_names:
        for down, up in pairs:
            c = method_config(method, a.batch, upsample=up, downsample=down)
            runners[f"{method}: jax {down}/{up}"] = JaxStep(c)
        if not a.no_torch:
            import torch
            from torch_reference import TorchWorker

            torch_of[method] = f"{method}: torch {torch.__version__} (own process)"
            runners[torch_of[method]] = TorchWorker(a.batch, threads=a.threads, method=method)
    # Several methods: all their runners alternate in one loop, so every ratio is within one run.
    res = time_interleaved(runners, a.reps, a.steps, warmup=a.warmup)
    auto = f"jax {layers.default_downsample()}/{layers.default_upsample()}"
    threads = a.threads or "default"
    print(f"{device_note()}; {a.method} batch {a.batch}; threads {threads}; {a.reps} reps x {a.steps} steps, interleaved")
    rows = []
    for name, r in res.items():
        method = name.split(":")[0]
        ref = res.get(torch_of.get(method))
        ratio = r["median_s"] / ref["median_s"] if ref else float("nan")
        mark = "  <- default" if name.endswith(auto) else ""
        best = min(r["samples_s"])
        ratio_min = best / min(ref["samples_s"]) if ref else float("nan")
        print(f"  {name:44s} median {1e3 * r['median_s']:7.1f} ms ({ratio:4.2f}x torch)   "
              f"min {1e3 * best:7.1f} ms ({ratio_min:4.2f}x torch){mark}")
        rows.append({"impl": name.split(": ", 1)[1], "batch": a.batch, "method": method, "threads": threads,
                     "device": device_note(), "ratio_to_torch": ratio, "ratio_to_torch_min": ratio_min, **r})
    if a.out:
        with open(a.out, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
