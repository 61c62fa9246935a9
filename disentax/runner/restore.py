"""Rebuild a trained run from its folder: config, method, dataset and the latest TrainState."""
from __future__ import annotations

import json
from pathlib import Path

import jax

from disentax import config as cfg
from disentax import methods
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.train.checkpoint import Checkpointer

__all__ = ["RunNotFoundError", "restore_run"]


class RunNotFoundError(FileNotFoundError):
    """`workdir` holds no run (no config.json) or no checkpoint; the message is one line."""


def restore_run(workdir, step: int | None = None):
    """``(config, method, dataset, state)`` of the run in `workdir` at its latest (or given) checkpoint.

    The method is rebuilt from ``workdir/config.json`` with ``methods.build(config, dataset)``; a
    template state from ``method.init_state`` on one ``method.sample_batch`` gives the structure
    that orbax restores into.
    """
    workdir = Path(workdir)
    path = workdir / "config.json"
    if not path.is_file():
        raise RunNotFoundError(f"{workdir} is not a run folder: no config.json (train one with `disentax train`)")
    try:
        config = cfg.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunNotFoundError(f"{path} is not a readable config: {e}") from None
    try:
        cfg.validate(config)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e} (a run written by another disentax version?)") from None
    ckpt_dir = workdir / "checkpoints"
    if not ckpt_dir.is_dir():
        raise RunNotFoundError(f"{workdir} holds no checkpoint (nothing under {ckpt_dir})")
    ckpt = Checkpointer(ckpt_dir)
    try:
        if ckpt.latest_step() is None:
            raise RunNotFoundError(f"{workdir} holds no checkpoint (nothing under {ckpt_dir})")
        if step is not None and step not in ckpt.all_steps():
            raise RunNotFoundError(f"{workdir} has no checkpoint at step {step}; saved steps: {ckpt.all_steps()}")
        dataset = get_dataset(config.dataset)
        method = methods.build(config, dataset)
        key = jax.random.PRNGKey(int(config.seed))
        if getattr(dataset, "on_host", False):  # images read with numpy: no jit around the sampler
            batch = method.sample_batch(key, int(config.batch_size))
        else:
            batch = jax.jit(lambda k: method.sample_batch(k, int(config.batch_size)))(key)
        state = ckpt.restore(method.init_state(key, batch), step)
    finally:
        ckpt.close()
    return config, method, dataset, state
