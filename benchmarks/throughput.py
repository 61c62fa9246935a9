"""Throughput of every registered method's train step, with the PyTorch reference in the same run.

    python benchmarks/throughput.py [--batches 64,256,1024] [--methods beta_vae,...]
        [--reps 3] [--steps 2] [--device "what this ran on"] [--out benchmarks/results]

For each batch size it builds each method's jitted step on a fixed batch (its published
config, conv model, `model.upsample`/`downsample` = auto), measures the compile time, then
times all methods and the torch reference in alternation (medians of `reps` blocks of
`steps` steps). It writes one JSON line per (method, batch) to `OUT/throughput.jsonl` and
a plot to `OUT/throughput.png`, with:

- steps_per_s, examples_per_s, compile_s;
- flops_per_step from XLA's cost analysis of the compiled step, and
  model_flops_utilisation = flops_per_step * steps_per_s / matmul_peak_flops, where the
  peak is measured in the same run with a large f32 matmul;
- xla_bytes: argument + output + temporary bytes of the compiled step (XLA memory analysis,
  per executable), and peak_memory_bytes with its source: the device allocator's
  `peak_bytes_in_use` where `memory_stats()` exists (GPU/TPU), else the process's peak RSS
  — a process-wide high-water mark, so on CPU it is not attributable to one method.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
from common import JaxStep, device_note, matmul_peak_flops, method_config, peak_memory, time_interleaved

from disentax import methods
from disentax.models import layers

# Settings benchmarked per method beyond its config file: one entry per variant
# (e.g. an estimator choice). A method missing here is run once with its defaults.
VARIANTS: dict[str, list[dict]] = {}


def _variants(method: str, extra: dict[str, list[dict]]):
    return extra.get(method) or VARIANTS.get(method) or [{}]


def _label(method: str, variant: dict) -> str:
    return method + "".join(f" {k}={v}" for k, v in variant.items())


def _config(method: str, batch: int, variant: dict):
    c = method_config(method, batch)
    for k, v in variant.items():
        node = c
        *path, leaf = k.split(".")
        for p in path:
            node = node[p]
        node[leaf] = v
    return c


def _memory_analysis(compiled) -> int | None:
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend implements it
        return None
    if m is None:
        return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for label in dict.fromkeys(r["label"] for r in rows):
        rs = sorted((r for r in rows if r["label"] == label), key=lambda r: r["batch"])
        style = "k--" if label.startswith("torch") else "-o"
        ax1.plot([r["batch"] for r in rs], [r["examples_per_s"] for r in rs], style, label=label)
        if not label.startswith("torch"):
            ax2.plot([r["batch"] for r in rs], [100 * (r["model_flops_utilisation"] or 0) for r in rs], "-o", label=label)
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("global batch size")
        ax.grid(alpha=0.3)
    ax1.set_ylabel("examples / s")
    ax2.set_ylabel("model FLOP/s as % of measured matmul peak")
    ax1.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="64,256,1024")
    p.add_argument("--methods", default=None, help="comma list; default: every registered method")
    p.add_argument("--variant", action="append", default=[],
                   help="METHOD:key=value[,key=value] adds a variant (repeatable), e.g. beta_tcvae:beta_tcvae.estimator=mss")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per runner first (torch needs a few)")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--device", default=None, help="free-text note of what this ran on (default: from jax)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    a = p.parse_args()

    names = a.methods.split(",") if a.methods else methods.available()
    extra: dict[str, list[dict]] = {}
    for spec in a.variant:
        m, _, kv = spec.partition(":")
        extra.setdefault(m, []).append(dict(item.split("=", 1) for item in kv.split(",") if item))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    note = a.device or device_note()
    peak = matmul_peak_flops()
    print(f"{note}; measured f32 matmul peak {peak / 1e9:.1f} GFLOP/s; "
          f"layers: downsample={layers.default_downsample()} upsample={layers.default_upsample()}", flush=True)
    make_torch = None
    if not a.no_torch:
        try:
            import torch
            from torch_reference import TorchWorker as make_torch
        except ImportError:
            print("torch not installed (pip install disentax[bench]); skipping the reference")

    rows = []
    for batch in (int(b) for b in a.batches.split(",")):
        runners, info = {}, {}
        for m in names:
            for v in _variants(m, extra):
                label = _label(m, v)
                s = JaxStep(_config(m, batch, v))
                runners[label] = s
                info[label] = {"compile_s": s.compile_s, "flops_per_step": s.flops(),
                               "xla_bytes": _memory_analysis(s.compiled)}
        if make_torch is not None:
            label = f"torch {torch.__version__} beta_vae"  # in its own process
            runners[label] = make_torch(batch)
            info[label] = {"compile_s": None, "flops_per_step": None, "xla_bytes": None}
        timed = time_interleaved(runners, a.reps, a.steps, warmup=a.warmup)
        mem, mem_source = peak_memory()
        for label, t in timed.items():
            sec = t["median_s"]
            flops = info[label]["flops_per_step"]
            row = {
                "label": label, "batch": batch, "device": note, "backend": jax.default_backend(),
                "steps_per_s": 1.0 / sec, "examples_per_s": batch / sec, "median_step_s": sec,
                "samples_step_s": t["samples_s"], **info[label],
                "model_flops_utilisation": (flops / sec / peak) if flops else None,
                "matmul_peak_flops": peak, "peak_memory_bytes": mem, "peak_memory_source": mem_source,
                "downsample": layers.default_downsample(), "upsample": layers.default_upsample(),
            }
            rows.append(row)
            mfu = f"{100 * row['model_flops_utilisation']:.1f}%" if flops else "  n/a"
            comp = f"{row['compile_s']:.1f}s" if row["compile_s"] is not None else "  n/a"
            print(f"  batch {batch:5d} {label:34s} {row['steps_per_s']:7.2f} steps/s {row['examples_per_s']:8.1f} ex/s "
                  f"compile {comp:>6s} MFU {mfu}", flush=True)
        with open(out / "throughput.jsonl", "a") as f:
            for r in rows[-len(timed):]:
                f.write(json.dumps(r) + "\n")
    plot(rows, out / "throughput.png", f"disentax throughput — {note}")
    print(f"wrote {out / 'throughput.jsonl'} and {out / 'throughput.png'}")


if __name__ == "__main__":
    main()
