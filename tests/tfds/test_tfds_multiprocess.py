"""Host-read batches on several processes: two processes of two CPU devices each, every one
reading only its rows of each global batch, train what one process of four devices trains."""
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("tensorflow_datasets", reason="tensorflow-datasets not installed: pip install '.[tfds]'")

# Runs one training process under TFDS mock data (the mock records are a function of the
# record index, so every process sees the same dataset) and saves the final parameters.
SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, jax, tensorflow_datasets as tfds
    from disentax import config as cfg
    from disentax.train import loop
    name, dataset, workdir, out = sys.argv[1:5]
    c = cfg.load_config_file(name)
    c.dataset = dataset
    c.batch_size, c.num_steps, c.log_every, c.checkpoint_every, c.progress = 8, 4, 2, 4, False
    c.model.encoder, c.model.mlp_hidden, c.model.latent_dim = "mlp", (16,), 4
    if c.method == "ml_vae":
        c.group_size, c.style_dim, c.content_dim = 2, 2, 2  # 4 groups = this host's 4 rows: the ambiguous case
    with tfds.testing.mock_data(num_examples=40):
        r = loop.train(cfg.validate(c), workdir, write_pictures=False)
    leaves = [np.asarray(l.addressable_data(0)) for l in jax.tree.leaves(r["state"].params)]
    if jax.process_index() == 0:
        np.savez(out, *leaves)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch(tmp_path, name, dataset, tag, devices, process_id=None, port=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") and k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    if process_id is not None:
        env.update(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(process_id))
    args = [name, dataset, str(tmp_path / tag), str(tmp_path / f"{tag}.npz")]
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("name", ["beta_vae_dsprites", "ml_vae_mnist"])
def test_two_processes_reading_their_rows_train_what_one_process_trains(tmp_path, name):
    port = _free_port()
    procs = [_launch(tmp_path, name, "mnist", "two", 2, i, port) for i in (0, 1)]
    procs.append(_launch(tmp_path, name, "mnist", "one", 4))
    for p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out[-3000:]
    two, one = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert len(two.files) == len(one.files) > 0
    for k in one.files:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-4, atol=1e-6)
