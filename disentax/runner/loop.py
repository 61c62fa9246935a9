"""The training loop: keys, checkpoints, metrics, NaN guard, progress bar, pictures, evaluations.

Every step's randomness comes from `fold_in(key, step)` of keys split once from the
seed, and the state (parameters, optimiser, step) is checkpointed whole, so a run
interrupted and resumed from any checkpoint retraces the uninterrupted run bit for bit.
The loop talks to a method only through its `Method` contract (`disentax.methods.contract`).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path

import jax
import numpy as np

from disentax import methods
from disentax.data.host_pipeline import make_batch_source
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.methods.registry import flatten
from disentax.train import sharding
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import MetricWriter, to_python

# Keys that may change between an interrupted run and its resumption without changing
# the trajectory; any other difference would silently mix two experiments.
RESUMABLE_KEYS = {"num_steps", "log_every", "checkpoint_every", "max_checkpoints", "progress",
                  "num_viz_images", "traversal_steps", "traversal_range",
                  "data_parallel", "distributed"}


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss becomes NaN or infinite; names the step."""

    def __init__(self, step: int, last_checkpoint: int | None):
        self.step, self.last_checkpoint = step, last_checkpoint
        where = f"last good checkpoint: step {last_checkpoint}" if last_checkpoint is not None else "no checkpoint was written"
        super().__init__(f"loss became non-finite at step {step}; training stopped ({where})")


def _check_config(workdir: Path, config, write: bool = True) -> None:
    path = workdir / "config.json"
    current = config.to_dict()
    if path.exists():
        saved = json.loads(path.read_text())
        a, b = flatten(saved), flatten(json.loads(json.dumps(current)))
        changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k.split(".")[0] not in RESUMABLE_KEYS)
        if changed:
            k = changed[0]
            raise ConfigError(
                f"{workdir} holds a run with config.{k}={a.get(k)!r}, not {b.get(k)!r}; "
                "use a new --workdir or the same config to resume"
            )
    if write:
        tmp = path.with_suffix(".json.tmp")  # other processes of a multi-host run read it
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True))
        os.replace(tmp, path)


def run_keys(seed: int):
    """(init, data, step, viz) keys, split once from the seed."""
    return jax.random.split(jax.random.PRNGKey(seed), 4)


def train(config, workdir, *, finish: bool = True) -> dict:
    """Train `config` in `workdir`, resuming from its latest checkpoint if there is one.

    Leaves `workdir/checkpoints/<step>`, `metrics.jsonl`, TensorBoard events in `tb/` and
    `config.json`; with `finish`, the method's pictures and (where it has some) its evaluations
    in `evaluation.json` when training ends.
    Returns {"step", "state", "metrics", "method", "pictures", "evaluation"} of the final step.
    """
    workdir = Path(workdir)
    # Data parallel over all devices: batches split on their leading axis, state replicated.
    mesh = sharding.setup(config)
    # Before the run folder exists: data that is not prepared, or a method that cannot be built
    # for it, leaves nothing half-made.
    dataset = get_dataset(config.dataset)
    method = methods.build(config, dataset)
    workdir.mkdir(parents=True, exist_ok=True)
    # With several processes (multi-host) every one runs this loop; only the first writes
    # files (config, metrics, pictures) — orbax coordinates the checkpoint itself.
    lead = jax.process_index() == 0
    _check_config(workdir, config, write=lead)
    init_key, data_key, step_key, viz_key = run_keys(config.seed)
    batch_size, num_steps = int(config.batch_size), int(config.num_steps)

    with contextlib.ExitStack() as cleanup:
        # batches(step) is a pure function of (seed, step), made directly in the data sharding.
        batches = make_batch_source(method.sample_batch, bool(getattr(dataset, "on_host", False)), data_key,
                                    batch_size, sharding=lambda b: sharding.batch_shardings(b, mesh))
        cleanup.callback(batches.close)
        state = sharding.jit_init(method.init_state, mesh)(init_key, batches(0))
        ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=int(config.max_checkpoints))
        cleanup.callback(ckpt.close)  # waits for the last asynchronous write
        start = 0
        if ckpt.latest_step() is not None:
            state = ckpt.restore(state)
            start = int(state.step)
        last_saved = start if ckpt.latest_step() is not None else None
        writer = MetricWriter(workdir, resume_step=start, enabled=lead)
        cleanup.callback(writer.close)
        step_fn = sharding.jit_step(method.train_step, mesh)

        pending: list[tuple[int, jax.Array]] = []  # (step, loss) not yet checked on the host

        def check_pending():
            if not pending:
                return
            losses = np.asarray(jax.device_get([loss for _, loss in pending]))
            bad = np.flatnonzero(~np.isfinite(losses))
            if bad.size:
                raise NonFiniteLossError(pending[bad[0]][0], last_saved)
            pending.clear()

        def save(step):
            nonlocal last_saved
            check_pending()
            ckpt.save(step, state)
            last_saved = step

        bar = None
        if config.progress and lead:
            from tqdm.auto import tqdm  # picks the notebook bar in Jupyter

            bar = tqdm(total=num_steps, initial=start, desc=config.method, unit="step", mininterval=1.0,
                       dynamic_ncols=True)
            cleanup.callback(bar.close)
        metrics = {}
        step = start
        t_last, step_last = time.perf_counter(), start
        try:
            while step < num_steps:
                state, metrics = step_fn(state, batches(step), jax.random.fold_in(step_key, step))
                pending.append((step + 1, metrics["loss"]))
                step += 1
                if bar is not None:
                    bar.update(1)
                if step % config.log_every == 0 or step == num_steps:
                    check_pending()
                    values = to_python(metrics)
                    now = time.perf_counter()
                    values["steps_per_sec"] = (step - step_last) / max(now - t_last, 1e-9)
                    t_last, step_last = now, step
                    writer.write(step, values)
                    if bar is not None:
                        bar.set_postfix(loss=f"{values['loss']:.2f}", kl=f"{values.get('kl', math.nan):.2f}")
                if step % config.checkpoint_every == 0:
                    save(step)
            save(step)
        except KeyboardInterrupt:
            save(step)  # the state is consistent between steps: keep everything up to here
            raise

    result = {"step": step, "state": state, "metrics": to_python(metrics) if metrics else {}, "method": method,
              "pictures": [], "evaluation": None}
    if finish and lead:
        # Each process holds a whole copy of the replicated state: draw from the local one so
        # the other processes need not take part.
        params = jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), state.params)
        k_pictures, k_evaluations = jax.random.split(viz_key)
        if method.pictures is not None:
            result["pictures"] = method.pictures(params, k_pictures, workdir)
        if method.evaluations is not None:
            result["evaluation"] = method.evaluations(params, k_evaluations)
            _write_json(workdir / "evaluation.json", {"step": step, "method": method.name, **result["evaluation"]})
    return result


def _write_json(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)
