"""Shared test utilities: exact pytree comparison and interrupting a training run mid-way."""
import jax
import numpy as np
import pytest

from disentax.train import loop


def same_leaves(a, b) -> bool:
    """True when two pytrees have the same number of leaves and every leaf is bitwise equal."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def train_until_interrupted(config, workdir, at_step: int, monkeypatch) -> None:
    """Run `loop.train` and raise KeyboardInterrupt right after the metrics of `at_step` are
    written (as Ctrl-C between two checkpoints would); the loop must save and re-raise."""
    real_write = loop.MetricWriter.write

    def write_then_interrupt(self, step, metrics):
        real_write(self, step, metrics)
        if step == at_step:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(loop.MetricWriter, "write", write_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            loop.train(config, workdir, write_pictures=False)
