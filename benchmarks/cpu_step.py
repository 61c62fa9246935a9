"""β-VAE step at one batch size: each equivalent layer implementation vs the PyTorch reference.

    python benchmarks/cpu_step.py --batch 64 --reps 7 --steps 3 [--out results.jsonl]

Times every (downsample, upsample) pair and the torch reference (in its own worker process,
so the two thread pools do not fight) in alternation within one run, and prints medians
and ratios to torch; the default (auto) choice is marked.
"""
from __future__ import annotations

import argparse
import json

from common import JaxStep, device_note, method_config, time_interleaved

from disentax.models import layers

PAIRS = [("conv", "conv_transpose"), ("conv", "subpixel"), ("conv", "matmul"),
         ("s2d", "subpixel"), ("matmul", "matmul"), ("s2d", "matmul")]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--method", default="beta_vae")
    p.add_argument("--pairs", default=None, help="comma list of down/up, e.g. conv/conv_transpose,matmul/matmul")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    pairs = PAIRS if a.pairs is None else [tuple(s.split("/")) for s in a.pairs.split(",")]
    runners = {}
    for down, up in pairs:
        c = method_config(a.method, a.batch, upsample=up, downsample=down)
        runners[f"jax {down}/{up}"] = JaxStep(c)
    if not a.no_torch:
        import torch

        from torch_reference import TorchWorker

        runners[f"torch {torch.__version__} (own process)"] = TorchWorker(a.batch)
    res = time_interleaved(runners, a.reps, a.steps)
    auto = f"jax {layers.default_downsample()}/{layers.default_upsample()}"
    torch_name = next((n for n in res if n.startswith("torch")), None)
    print(f"{device_note()}; {a.method} batch {a.batch}; {a.reps} reps x {a.steps} steps, interleaved")
    rows = []
    for name, r in res.items():
        ratio = r["median_s"] / res[torch_name]["median_s"] if torch_name else float("nan")
        mark = "  <- default" if name == auto else ""
        print(f"  {name:32s} {1e3 * r['median_s']:8.1f} ms/step   {ratio:5.2f}x torch{mark}")
        rows.append({"impl": name, "batch": a.batch, "method": a.method, "ratio_to_torch": ratio, **r})
    if a.out:
        with open(a.out, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
