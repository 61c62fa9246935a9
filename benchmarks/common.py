"""Shared helpers for the benchmarks: build a method's jitted step on a fixed batch, time it."""
from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from disentax import config as cfg  # noqa: E402
from disentax import methods  # noqa: E402
from disentax.data.registry import get_dataset  # noqa: E402
from disentax.train.step import takes_log  # noqa: E402


def method_config(method: str, batch_size: int, **model):
    """The method's own config file if there is one (its published defaults), else the base config."""
    try:
        c = cfg.load_config_file(f"{method}_dsprites")
    except cfg.ConfigError:
        c = cfg.base_config(method)
    c.batch_size = batch_size
    c.progress = False
    for k, v in model.items():
        c.model[k] = v
    return c


class JaxStep:
    """A method's jitted train step on one fixed batch; `__call__` runs one step and blocks.

    `log=False` (default) times the step the loop runs between logging steps, without the
    gradient-free diagnostics; `log=True` the step of a logging step.
    """

    def __init__(self, config, seed: int = 0, log: bool = False):
        self.config = config
        dataset = get_dataset(config.dataset)
        self.method = methods.build(config, dataset)
        key = jax.random.PRNGKey(seed)
        k_data, k_init, self.k_step = jax.random.split(key, 3)
        self.batch = jax.jit(lambda k: self.method.sample_batch(k, int(config.batch_size)))(k_data)
        self.state = self.method.init_state(k_init, self.batch)
        step = self.method.train_step
        self.jitted = jax.jit(functools.partial(step, log=log) if takes_log(step) else step, donate_argnums=0)
        self.i = 0
        t0 = time.perf_counter()
        self.compiled = self.jitted.lower(self.state, self.batch, self.k_step).compile()
        self.compile_s = time.perf_counter() - t0

    def flops(self) -> float | None:
        """Model FLOPs of one step from XLA's cost analysis (None if the backend gives none)."""
        cost = self.compiled.cost_analysis()
        if isinstance(cost, (list, tuple)):
            cost = cost[0] if cost else None
        if not cost or "flops" not in cost:
            return None
        return float(cost["flops"])

    def __call__(self):
        self.state, metrics = self.compiled(self.state, self.batch, jax.random.fold_in(self.k_step, self.i))
        self.i += 1
        jax.block_until_ready(metrics["loss"])
        return metrics


def time_interleaved(runners: dict, reps: int, steps: int, warmup: int = 1, settle: float = 0.05) -> dict:
    """Median seconds per step of each runner, timed in alternation so load drifts hit all alike.

    Every runner first runs `warmup` untimed steps; then, `reps` times, each runner in turn
    runs `steps` steps and the mean of that block is one sample. `settle` seconds of sleep
    before each block let the previous runner's thread pool go idle (OpenMP and Eigen workers
    spin for a while after their last task and would otherwise tax the next runner).
    """
    for run in runners.values():
        for _ in range(warmup):
            run()
    samples = {name: [] for name in runners}
    for _ in range(reps):
        for name, run in runners.items():
            time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(steps):
                run()
            samples[name].append((time.perf_counter() - t0) / steps)
    return {name: {"median_s": float(np.median(s)), "samples_s": [float(x) for x in s]} for name, s in samples.items()}


def matmul_peak_flops(n: int = 2048, blocks: int = 3, per_block: int = 5) -> float:
    """Measured f32 matmul throughput (FLOP/s) of the default device.

    Best of `blocks` blocks of `per_block` back-to-back n x n products: a block, not a single
    product, so a momentary burst or timer glitch on a shared VM cannot inflate the peak
    (single 2048^3 products here occasionally read 1.5x the 2-core hardware maximum).
    """
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    f(a, b).block_until_ready()
    best = np.inf
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(per_block):
            f(a, b).block_until_ready()
        best = min(best, (time.perf_counter() - t0) / per_block)
    return 2.0 * n**3 / best


def peak_memory() -> tuple[float | None, str]:
    """(peak bytes, source): the device allocator's peak where it reports one, else process peak RSS."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - backends without allocator stats
        stats = None
    if stats and "peak_bytes_in_use" in stats:
        return float(stats["peak_bytes_in_use"]), "device peak_bytes_in_use"
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024.0, "process peak RSS (ru_maxrss)"


def device_note() -> str:
    d = jax.devices()[0]
    return f"{jax.default_backend()}: {len(jax.devices())} x {d.device_kind}; {os.cpu_count()} host cores"
