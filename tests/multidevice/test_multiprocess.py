"""Multi-host training, simulated: two processes with two CPU devices each (gloo collectives)
against one process with four. Both see a 4-device "data" mesh and the same global batch, so
they must train the same parameters; only the first process writes files."""
import json

import jax
import numpy as np
import pytest

from disentax.runner.restore import restore_run
from disentax.train.sharding import initialize_distributed, process_layout

from helpers import finish, free_port, launch_python

OVERRIDES = ["--config.model.encoder=mlp", "--config.model.mlp_hidden=(32,)", "--config.batch_size=16",
             "--config.num_steps=12", "--config.log_every=4", "--config.checkpoint_every=8", "--config.progress=False"]


def _train(workdir, devices: int, process_id: int | None = None, port: int | None = None):
    cmd = ["-m", "disentax.cli", "train", "--config", "beta_vae_dsprites", "--workdir", str(workdir)]
    return launch_python(cmd + OVERRIDES, devices, process_id, port)


def test_two_processes_train_what_one_process_trains(tmp_path):
    port = free_port()
    hosts = [_train(tmp_path / "two", 2, i, port) for i in (0, 1)]
    single = _train(tmp_path / "one", 4)
    for p in hosts + [single]:
        finish(p)

    lines = [json.loads(l) for l in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(l) for l in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [r["step"] for r in ref] == [4, 8, 12]  # written once, not per process
    for a, b in zip(lines, ref):
        np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)
    _, _, _, two = restore_run(tmp_path / "two")
    _, _, _, one = restore_run(tmp_path / "one")
    assert int(two.step) == int(one.step) == 12
    for a, b in zip(jax.tree.leaves(two.params), jax.tree.leaves(one.params)):
        # The same program on the same global batch; the cross-process all-reduce may sum in
        # another order, hence a float tolerance rather than bit equality.
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    assert (tmp_path / "two" / "reconstructions.png").is_file()


def test_process_layout_from_environment():
    assert process_layout({"JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3"}) == {"num_processes": 4, "process_id": 3}
    assert process_layout({}) == {}
    with pytest.raises(ValueError, match="JAX_PROCESS_ID='x' must be a non-negative integer"):
        process_layout({"JAX_PROCESS_ID": "x"})
    with pytest.raises(ValueError, match="allowed: auto, on, off"):
        initialize_distributed("sometimes", env={})
