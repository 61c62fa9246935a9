"""The training loop: keys, checkpoints, metrics, NaN guard, progress bar, pictures, evaluations.

Every step's randomness comes from `fold_in(key, step)` of keys split once from the
seed, and the state (parameters, optimiser, step) is checkpointed whole, so a run
interrupted and resumed from any checkpoint retraces the uninterrupted run bit for bit.
The loop talks to a method only through its `Method` contract (`disentax.methods.contract`).

Nothing is lost on the way: everything that can be checked (the config, the method, the data, the
run folder, the resume) is checked before the run folder is written; one process trains in a
folder at a time (`RunLock`); a signal stops the run between steps with a checkpoint of the last
one (`GracefulStop`); any other error that leaves the state consistent saves it too; a damaged
checkpoint is set aside and the newest good one resumes; each checkpoint carries the run's config,
so a resume is checked against it even when `config.json` is gone.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from disentax import config as cfg
from disentax import methods
from disentax.data.host_pipeline import make_batch_source
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.methods.registry import flatten
from disentax.runner.lock import RunLock
from disentax.runner.signals import GracefulStop, StopRequested
from disentax.train import sharding
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import MetricWriter, read_json, to_python, write_json

# Keys that may change between an interrupted run and its resumption without changing
# the trajectory; any other difference would silently mix two experiments.
RESUMABLE_KEYS = {"num_steps", "log_every", "diagnostics_points", "checkpoint_every", "max_checkpoints", "progress",
                  "num_viz_images", "traversal_steps", "traversal_range",
                  "data_parallel", "distributed"}


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss becomes NaN or infinite; names the step."""

    def __init__(self, step: int, last_checkpoint: int | None):
        self.step, self.last_checkpoint = step, last_checkpoint
        where = f"last good checkpoint: step {last_checkpoint}" if last_checkpoint is not None else "no checkpoint was written"
        super().__init__(f"loss became non-finite at step {step}; training stopped ({where})")


def _first_difference(saved: dict, current: dict) -> str | None:
    """The config key whose difference matters most: the method first, then keys both have."""
    a, b = flatten(saved), flatten(current)
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k.split(".")[0] not in RESUMABLE_KEYS)
    if not changed:
        return None
    if "method" in changed:
        return "method"
    both = [k for k in changed if k in a and k in b]
    return (both or changed)[0]


def _config_dict(config) -> dict:
    return json.loads(json.dumps(config.to_dict()))


def _check_resume(workdir: Path, current: dict, saved: dict, source: str) -> None:
    key = _first_difference(saved, current)
    if key is not None:
        old, new = flatten(saved).get(key), flatten(current).get(key)
        raise ConfigError(f"{workdir} holds a run with config.{key}={old!r}, not {new!r} (read from {source}); "
                          "use a new --workdir or the same config to resume")


def _check_workdir(workdir: Path) -> None:
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"--workdir {workdir} is a file, not a folder")
    parent = next((p for p in [workdir, *workdir.parents] if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"--workdir {workdir}: {parent} is a file, not a folder")


def _out_of_memory(e: Exception) -> bool:
    return "RESOURCE_EXHAUSTED" in str(e) or "Out of memory" in str(e)


def _step_function(method, dataset, batches, data_key, step_key, batch_size: int, mesh):
    """(`next_batch(step)`, `run(state, step, batch, log) -> (state, metrics)`): the step of `step`.

    A dataset rendered on device makes its batch inside the step's program
    (`sharding.jit_sampled_step`; `next_batch` gives None); a host dataset's batches come prefetched
    from `batches`, fetched before the step so a read error leaves the state untouched. `log` is
    true on the steps whose metrics are written, the only ones that need the diagnostics.
    """
    if not getattr(dataset, "on_host", False):
        fused = sharding.jit_sampled_step(method.train_step, method.sample_batch, batch_size, data_key, step_key, mesh)
        return (lambda step: None), (lambda state, step, batch, log: fused(state, step, log))
    jitted = sharding.jit_step(method.train_step, mesh)
    return batches, (lambda state, step, batch, log: jitted(state, batch, jax.random.fold_in(step_key, step), log))


def log_due(step: int, log_every: int, num_steps: int) -> bool:
    """True for the steps whose metrics are written: every `log_every`-th and the last one."""
    return step % log_every == 0 or step == num_steps


def merge_probed(values: dict, probed: dict) -> dict:
    """`values` (a step's metrics) with `probed` (`Method.diagnose`'s estimates) under their own names;
    a step metric of the same name, the step's estimate on its training batch, kept as `batch_<name>`."""
    for name in probed:
        if name in values:
            values[f"batch_{name}"] = values.pop(name)
    values.update(probed)
    return values


def run_keys(seed: int):
    """(init, data, step, viz) keys, split once from the seed."""
    return jax.random.split(jax.random.PRNGKey(seed), 4)


def _note(message: str) -> None:
    print(f"disentax: {message}", file=sys.stderr, flush=True)


def train(config, workdir, *, finish: bool = True, exit_on_second_signal: bool = False,
          note: Callable[[str], None] = _note) -> dict:
    """Train `config` in `workdir`, resuming from its newest good checkpoint if there is one.

    Leaves `workdir/checkpoints/<step>` (state and config), `metrics.jsonl`, TensorBoard events in
    `tb/` and `config.json`; with `finish`, the method's pictures and (where it has some) its
    evaluations in `evaluation.json` when training ends. SIGINT/SIGTERM (or Ctrl-C) stop the run
    after the current step with a checkpoint of it and raise `StopRequested` (a KeyboardInterrupt).
    `note(message)` receives one-line notes: the step resumed from, checkpoints set aside.
    Returns {"step", "start", "state", "metrics", "method", "pictures", "evaluation"}.
    """
    workdir = Path(workdir)
    with GracefulStop(exit_on_second=exit_on_second_signal) as stop, contextlib.ExitStack() as cleanup:
        return _train(cfg.validate(config), workdir, finish, stop, cleanup, note)


def _train(config, workdir: Path, finish: bool, stop: GracefulStop, cleanup: contextlib.ExitStack, note) -> dict:
    _check_workdir(workdir)
    # Data parallel over all devices: batches split on their leading axis, state replicated.
    mesh = sharding.setup(config)
    # Before the run folder exists: data that is not prepared, or a method that cannot be built
    # for it, leaves nothing half-made.
    dataset = get_dataset(config.dataset)
    try:
        method = methods.build(config, dataset)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"method {config.method!r} cannot be built for dataset {config.dataset!r}: {e}") from None
    # With several processes (multi-host) every one runs this loop; only the first writes the
    # run's files (config, metrics, pictures) and holds the folder's lock; orbax coordinates the
    # checkpoints itself.
    lead = jax.process_index() == 0
    lock = RunLock(workdir)
    if lead and workdir.is_dir():
        cleanup.enter_context(lock)
    init_key, data_key, step_key, viz_key = run_keys(config.seed)
    batch_size, num_steps = int(config.batch_size), int(config.num_steps)
    current = _config_dict(config)  # what the checkpoints and config.json hold

    # The resume, checked before anything is written: the checkpoints carry the run's config.
    ckpt_dir = workdir / "checkpoints"
    ckpt = Checkpointer(ckpt_dir, max_to_keep=int(config.max_checkpoints), create=False) if ckpt_dir.is_dir() else None
    if ckpt is not None:
        cleanup.callback(ckpt.close)
    steps = ckpt.all_steps() if ckpt is not None else []
    saved = next((c for c in (ckpt.saved_config(s) for s in reversed(steps)) if c is not None), None)
    if saved is not None:
        _check_resume(workdir, current, saved, "its checkpoints")
    elif steps and (json_config := read_json(workdir / "config.json")) is not None:
        _check_resume(workdir, current, json_config, "config.json")
    if steps and max(steps) > num_steps:
        raise ConfigError(f"{workdir} holds a run at step {max(steps)}, past config.num_steps={num_steps}; "
                          "raise num_steps to continue it, or use a new --workdir")

    # batches(step) is a pure function of (seed, step), made directly in the data sharding.
    batches = make_batch_source(method.sample_batch, bool(getattr(dataset, "on_host", False)), data_key,
                                batch_size, sharding=lambda b: sharding.batch_shardings(b, mesh))
    cleanup.callback(batches.close)
    try:
        state = sharding.jit_init(method.init_state, mesh)(init_key, batches(0))
    except jax.errors.JaxRuntimeError as e:
        if _out_of_memory(e):
            raise ConfigError(f"out of memory initialising {config.method!r} (config.model: "
                              f"{dict(config.model)}); make the model or batch smaller") from None
        raise
    except (ValueError, TypeError) as e:  # shapes that do not fit (a conv stack too deep for the image, ...)
        raise ConfigError(f"method {config.method!r} cannot be initialised for dataset {config.dataset!r}: "
                          f"{str(e).splitlines()[0]}") from None
    start, last_saved = 0, None
    if steps:
        aside = workdir / "corrupt_checkpoints"
        restored, good = ckpt.restore_latest_good(
            state, quarantine=aside if lead else None,
            on_skip=lambda s, why: note(f"checkpoint {s} in {ckpt_dir} does not restore ({why})"
                                        + (f"; moved to {aside / str(s)}" if lead else "")))
        if restored is not None:
            state, start, last_saved = restored, int(good), int(good)
            note(f"resuming {workdir} from checkpoint {good} (of {num_steps} steps)")
        else:
            note(f"no checkpoint in {ckpt_dir} restores; starting from step 0")
    if stop.requested:
        raise StopRequested(start, None, stop.signum, last_saved)

    # Now the run is known to be valid: write its folder.
    if lead:
        workdir.mkdir(parents=True, exist_ok=True)
        if not lock.held:
            cleanup.enter_context(lock)
        write_json(workdir / "config.json", current, sort_keys=True)
    if ckpt is None:
        ckpt = Checkpointer(ckpt_dir, max_to_keep=int(config.max_checkpoints))
        cleanup.callback(ckpt.close)  # waits for the last asynchronous write
    writer = MetricWriter(workdir, resume_step=start, enabled=lead)
    cleanup.callback(writer.close)
    next_batch, step_fn = _step_function(method, dataset, batches, data_key, step_key, batch_size, mesh)

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
        ckpt.save(step, state, current)
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

    # The pool of the logged estimates (method.diagnose) at step s is drawn from fold_in(probe_key, s):
    # the same numbers when a resumed run logs that step again.
    probe_key = jax.random.fold_in(viz_key, 1)

    def log(step):
        nonlocal t_last, step_last
        check_pending()
        values = to_python(metrics)
        now = time.perf_counter()
        values["steps_per_sec"] = (step - step_last) / max(now - t_last, 1e-9)
        if method.diagnose is not None and writer.enabled:
            # On one local copy of the replicated parameters: nothing is gathered across devices or
            # hosts, and only the process that writes computes it.
            params = jax.tree.map(lambda a: a.addressable_data(0), method.scored_params(state))
            merge_probed(values, to_python(method.diagnose(params, jax.random.fold_in(probe_key, step))))
            now = time.perf_counter()  # steps_per_sec counts training steps only
        t_last, step_last = now, step
        writer.write(step, values)
        if bar is not None:
            bar.set_postfix(loss=f"{values['loss']:.2f}", **({"kl": f"{values['kl']:.2f}"} if "kl" in values else {}))

    def save_on_the_way_out():
        """The last consistent step: its row (if due) and its checkpoint; None if there is nothing new
        or it cannot be saved (non-finite losses, a write error)."""
        if step == start:
            return None
        try:
            if metrics and writer.enabled and writer.last_written < step and log_due(step, config.log_every, num_steps):
                log(step)
            if last_saved != step:
                save(step)
            ckpt.wait()
            stop.saved_step = step
            return step
        except (NonFiniteLossError, OSError):
            return None

    consistent = True  # False while a step has donated the state and not yet returned the new one
    try:
        while step < num_steps and not stop.requested:
            batch = next_batch(step)
            logged = log_due(step + 1, config.log_every, num_steps)
            consistent = False
            try:
                state, metrics = step_fn(state, step, batch, logged)
            except jax.errors.JaxRuntimeError as e:
                if _out_of_memory(e):
                    raise ConfigError(f"out of memory in the train step of {config.method!r} at step {step} "
                                      f"(batch {batch_size}); make the model or batch smaller") from None
                raise
            consistent = True
            pending.append((step + 1, metrics["loss"]))
            step += 1
            if bar is not None:
                bar.update(1)
            if log_due(step, config.log_every, num_steps):
                log(step)
                ckpt.check_for_errors()
            if step % config.checkpoint_every == 0:
                save(step)
        if stop.requested:
            saved_step = save_on_the_way_out()
            raise StopRequested(step, saved_step, stop.signum, last_saved)
        save(step)
        ckpt.wait()
    except StopRequested:
        raise
    except NonFiniteLossError:
        raise  # the state holds non-finite values: the last good checkpoint stays the last one
    except KeyboardInterrupt:
        # Ctrl-C without our handler (another thread, a library caller): keep everything up to here.
        saved_step = save_on_the_way_out() if consistent else None
        raise StopRequested(step, saved_step, None, last_saved) from None
    except Exception:
        if consistent:
            with contextlib.suppress(Exception):
                save_on_the_way_out()  # any other error between steps: the work so far is kept
        raise

    result = {"step": step, "start": start, "state": state, "metrics": to_python(metrics) if metrics else {},
              "method": method, "pictures": [], "evaluation": None}
    if finish and lead:
        # Each process holds a whole copy of the replicated state: draw from the local one so
        # the other processes need not take part.
        params = jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), method.scored_params(state))
        k_pictures, k_evaluations = jax.random.split(viz_key)
        if method.pictures is not None:
            result["pictures"] = method.pictures(params, k_pictures, workdir)
        if method.evaluations is not None:
            result["evaluation"] = method.evaluations(params, k_evaluations)
            write_json(workdir / "evaluation.json", {"step": step, "method": method.name, **result["evaluation"]})
    return result
