"""Model-steps per second of a sweep (S models, one vmapped step) against S single-model runs.

    python benchmarks/sweep.py                                # S = 1, 4, 16; conv and MLP; batch 64
    python benchmarks/sweep.py --sizes 1,4 --encoders mlp --steps 3 --reps 2   # quick look

For each encoder, way of sharing the step (`--vectorize`: `unroll`, the CPU default, `vmap`, `map`)
and S, in one process: the sweep's step (`disentax.runner.sweep`: S β-VAE members, seeds 0..S−1,
their batches rendered inside the step) and the single run's step (the loop's fused step,
as `sharding.jit_sampled_step` makes it, on one device), both compiled first, then timed in alternation, `--reps` rounds
of `--steps` steps each. Sequential single runs make 1/t_single model-steps per second, the sweep
S/t_sweep; the ratio is their quotient per round (median and range). Memory per model is XLA's own
account of each compiled step (arguments + outputs + temporaries, `memory_analysis()`), the sweep's
divided by S. Writes JSON lines to ``benchmarks/results/sweep.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from disentax import config as cfg  # noqa: E402
from disentax import methods  # noqa: E402
from disentax.data.registry import get_dataset  # noqa: E402
from disentax.runner.loop import run_keys  # noqa: E402
from disentax.runner.sweep import _sweep_functions, unstack_members  # noqa: E402  (the sweep's step, no loop)


def memory_bytes(compiled) -> int | None:
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)
    except Exception:  # not every backend reports it
        return None


def measure(encoder: str, size: int, batch: int, steps: int, reps: int, vectorize: str) -> dict:
    overrides = [f"--config.model.encoder={encoder}", f"--config.batch_size={batch}", "--config.progress=False"]
    config = cfg.get("beta_vae_dsprites", overrides)
    dataset = get_dataset(config.dataset)
    keys = [run_keys(int(config.seed) + i) for i in range(size)]
    init_keys, data_keys, step_keys = (jnp.stack([k[j] for k in keys]) for j in range(3))
    values = jnp.zeros((size, 0), jnp.float32)
    _, init, sweep_step = _sweep_functions(config, dataset, [], batch, vectorize)
    states = init(init_keys, data_keys)
    if vectorize == "unroll":
        states = unstack_members(states, size)
    lowered = sweep_step.lower(values, states, data_keys, step_keys, np.uint32(0), np.bool_(False))
    sweep_mem = memory_bytes(lowered.compile())

    method = methods.build(config, dataset)
    data_key, step_key = keys[0][1], keys[0][2]

    def fused(state, step, log):  # the loop's fused step (sharding.jit_sampled_step) on one device
        x = method.sample_batch(jax.random.fold_in(data_key, step), batch)
        return method.train_step(state, x, jax.random.fold_in(step_key, step), log)

    single = jax.jit(fused, donate_argnums=(0,))  # donated like the loop's (and the sweep's) step
    state = jax.jit(method.init_state)(keys[0][0], method.sample_batch(jax.random.fold_in(data_key, 0), batch))
    single_mem = memory_bytes(single.lower(state, np.uint32(0), np.bool_(False)).compile())

    def single_step(state, t, log):
        return single(state, np.uint32(t), np.bool_(log))

    def run_sweep(states, n, start):
        for t in range(start, start + n):
            states, m = sweep_step(values, states, data_keys, step_keys, np.uint32(t), np.bool_(False))
        jax.block_until_ready(m["loss"])
        return states

    def run_single(state, n, start):
        for t in range(start, start + n):
            state, m = single_step(state, t, False)
        jax.block_until_ready(m["loss"])
        return state

    states = run_sweep(states, 2, 0)  # compile and warm up
    state = run_single(state, 2, 0)
    t_sweep, t_single = [], []
    for r in range(reps):
        t = time.perf_counter()
        states = run_sweep(states, steps, 2 + r * steps)
        t_sweep.append((time.perf_counter() - t) / steps)
        t = time.perf_counter()
        state = run_single(state, steps, 2 + r * steps)
        t_single.append((time.perf_counter() - t) / steps)
    ratios = [size * a / b for a, b in zip(t_single, t_sweep)]
    return {
        "encoder": encoder, "vectorize": vectorize, "models": size, "batch": batch, "steps": steps, "reps": reps,
        "sweep_step_s": statistics.median(t_sweep), "single_step_s": statistics.median(t_single),
        "sweep_model_steps_per_s": size / statistics.median(t_sweep),
        "sequential_model_steps_per_s": 1 / statistics.median(t_single),
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "memory_per_model_sweep_mb": None if sweep_mem is None else round(sweep_mem / size / 2**20, 2),
        "memory_single_mb": None if single_mem is None else round(single_mem / 2**20, 2),
        "device": str(jax.devices()[0]), "platform": platform.platform(),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1,4,16")
    p.add_argument("--encoders", default="mlp,conv")
    p.add_argument("--vectorize", default="unroll,vmap,map", help="how the members share the step (comma-separated)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sweep.jsonl"))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for encoder in args.encoders.split(","):
        for vectorize in args.vectorize.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                row = measure(encoder, size, args.batch, args.steps, args.reps, vectorize)
                print(json.dumps(row), flush=True)
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
