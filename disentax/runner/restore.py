"""Rebuild a trained run from its folder: config, method, dataset and the latest TrainState."""
from __future__ import annotations

from pathlib import Path

import jax

from disentax import config as cfg
from disentax import methods
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_json

__all__ = ["RunNotFoundError", "restore_run"]


class RunNotFoundError(FileNotFoundError):
    """`workdir` holds no run (no config.json) or no checkpoint; the message is one line."""


def restore_run(workdir, step: int | None = None, note=None):
    """``(config, method, dataset, state)`` of the run in `workdir` at its newest good (or the given)
    checkpoint.

    The config is ``workdir/config.json``, or, where that file is missing or unreadable, the one saved
    with the checkpoint. The method is rebuilt with ``methods.build(config, dataset)``; a template
    state from ``method.init_state`` on one ``method.sample_batch`` gives the structure that orbax
    restores into. A damaged newest checkpoint is skipped (reported through `note(message)`, never
    moved: this only reads the run folder).
    """
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise RunNotFoundError(f"{workdir} is not a run folder (train one with `disentax train`)")
    ckpt_dir = workdir / "checkpoints"
    ckpt = Checkpointer(ckpt_dir, create=False) if ckpt_dir.is_dir() else None
    try:
        steps = ckpt.all_steps() if ckpt is not None else []
        path = workdir / "config.json"
        values = read_json(path)
        if values is None:
            values = next((c for c in (ckpt.saved_config(s) for s in reversed(steps)) if c is not None), None)
        if values is None:
            if not path.is_file():
                raise RunNotFoundError(f"{workdir} is not a run folder: no config.json "
                                       "(train one with `disentax train`)")
            raise RunNotFoundError(f"{path} is not a readable config, and no checkpoint carries one")
        config = cfg.from_dict(values)
        added = cfg.with_new_hyperparameters(config)
        if added and note is not None:
            note(f"{path} predates {', '.join(added)}: using the default (the behaviour it was trained with)")
        try:
            cfg.validate(config)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e} (a run written by another disentax version?)") from None
        if not steps:
            raise RunNotFoundError(f"{workdir} holds no checkpoint (nothing under {ckpt_dir})")
        if step is not None and step not in steps:
            raise RunNotFoundError(f"{workdir} has no checkpoint at step {step}; saved steps: {steps}")
        dataset = get_dataset(config.dataset)
        method = methods.build(config, dataset)
        key = jax.random.PRNGKey(int(config.seed))
        if getattr(dataset, "on_host", False):  # images read with numpy: no jit around the sampler
            batch = method.sample_batch(key, int(config.batch_size))
        else:
            batch = jax.jit(lambda k: method.sample_batch(k, int(config.batch_size)))(key)
        template = method.init_state(key, batch)
        if step is not None:
            state = ckpt.restore(template, step)
        else:
            skip = None if note is None else (lambda s, why: note(f"checkpoint {s} does not restore ({why}); "
                                                                  "using the newest one that does"))
            state, good = ckpt.restore_latest_good(template, on_skip=skip)
            if state is None:
                raise RunNotFoundError(f"no checkpoint in {ckpt_dir} restores (steps {steps})")
    finally:
        if ckpt is not None:
            ckpt.close()
    return config, method, dataset, state
