"""Shared test utilities: exact pytree comparison, interrupting a training run mid-way, and
launching the processes of a simulated multi-host run."""
import os
import socket
import subprocess
import sys

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


def free_port() -> int:
    """A TCP port on localhost nobody listens on now (for a multi-host run's coordinator)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def launch_python(args, devices: int, process_id: int | None = None, port: int | None = None) -> subprocess.Popen:
    """`python ARGS` on `devices` simulated CPU devices; with `process_id`, as that process of a
    two-process run coordinated on localhost:`port` (sharding.process_layout's variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") and k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    if process_id is not None:
        env.update(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(process_id))
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc: subprocess.Popen) -> None:
    """Wait for `proc`; fail with the tail of its output unless it exited 0."""
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
