"""Checkpoints through orbax-checkpoint: the whole TrainState and the run's config, restored exactly.

Each step folder holds two items: `state` (the TrainState pytree) and `config` (the run's config as
JSON), so a run folder can always be checked against the command that resumes it, even without its
`config.json`. orbax writes a step into a temporary folder and renames it when complete, so an
interrupted write never leaves a half-written step behind; a step that was damaged afterwards
(truncated files, a deleted metadata file, an empty folder) is skipped on restore by
`restore_latest_good`, which falls back to the newest step that restores and checks.
"""
from __future__ import annotations

import errno
import shutil
import time
from pathlib import Path
from typing import Callable

import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (a full disk, a read-only folder); the message is one line."""


class Checkpointer:
    """Saves `TrainState` pytrees (with the run's config) under `directory/<step>` and restores them.

    Saving is asynchronous (orbax copies device arrays to host before `save` returns, so the next
    step may donate the buffers); `wait()` and `close()` wait for pending writes and raise a
    one-line `CheckpointWriteError` if one failed. `create=False` reads an existing folder without
    creating anything.
    """

    def __init__(self, directory, max_to_keep: int = 3, create: bool = True):
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=create),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, state, config: dict | None = None) -> None:
        if step in self._manager.all_steps():
            return
        items = {"state": ocp.args.StandardSave(state)}
        if config is not None:
            items["config"] = ocp.args.JsonSave(config)
        try:
            self._manager.save(step, args=ocp.args.Composite(**items))
        except OSError as e:
            raise _write_error(step, self.directory, e) from None

    def restore(self, target, step: int | None = None):
        """Restore into the structure, shapes, dtypes and shardings of `target`."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        return self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))).state

    def saved_config(self, step: int) -> dict | None:
        """The config saved with `step`, or None when it cannot be read."""
        try:
            return dict(self._manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore())).config)
        except Exception:  # a damaged or config-less step: the caller falls back to other sources
            return None

    def restore_latest_good(self, target, *, quarantine: Path | None = None,
                            on_skip: Callable[[int, str], None] | None = None, max_step: int | None = None):
        """(state, step) of the newest step that restores and checks (its step counter matches,
        every floating-point leaf is finite), or (None, None) when none does. A step that fails is
        reported through `on_skip(step, reason)` and, given `quarantine`, moved there so it is
        kept for inspection and never tried again."""
        for step in reversed(self.all_steps()):
            if max_step is not None and step > max_step:
                continue
            try:
                state = self.restore(target, step)
                reason = _check_restored(state, step)
            except Exception as e:  # orbax raises many kinds of error for damaged files
                reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
            if reason is None:
                return state, step
            if on_skip is not None:
                on_skip(step, reason)
            if quarantine is not None:
                self._set_aside(step, quarantine)
        return None, None

    def _set_aside(self, step: int, quarantine: Path) -> None:
        quarantine.mkdir(parents=True, exist_ok=True)
        target = quarantine / str(step)
        if target.exists():
            target = quarantine / f"{step}-{int(time.time())}"
        shutil.move(str(self.directory / str(step)), str(target))
        self._manager.reload()

    def check_for_errors(self) -> None:
        """Raise (one line) if an asynchronous write that has finished failed."""
        try:
            self._manager.check_for_errors()
        except OSError as e:
            raise _write_error(self.latest_step(), self.directory, e) from None

    def wait(self) -> None:
        try:
            self._manager.wait_until_finished()
        except OSError as e:
            raise _write_error(self.latest_step(), self.directory, e) from None

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._manager.close()


def _check_restored(state, step: int) -> str | None:
    if int(np.asarray(state.step)) != int(step):
        return f"its step counter reads {int(np.asarray(state.step))}"
    for leaf in jax.tree.leaves(state):
        a = np.asarray(leaf)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            return "it holds non-finite values"
    return None


def _write_error(step, directory: Path, e: OSError) -> CheckpointWriteError:
    what = "no space left on the device" if e.errno == errno.ENOSPC else (e.strerror or str(e))
    error = CheckpointWriteError(f"writing checkpoint {step} in {directory} failed: {what}")
    error.errno = e.errno
    return error


def describe_steps(steps) -> str:
    return ", ".join(map(str, steps)) if steps else "none"


__all__ = ["CheckpointWriteError", "Checkpointer", "describe_steps"]
