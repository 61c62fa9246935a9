"""Host-read batches on several processes: two processes of two CPU devices each, every one
reading only its rows of each global batch, train what one process of four devices trains."""
import textwrap

import numpy as np
import pytest

from helpers import finish, free_port, launch_python

pytest.importorskip("tensorflow_datasets", reason="tensorflow-datasets not installed: pip install '.[tfds]'")

# Runs one training process under TFDS mock data (the mock records are a function of the
# record index, so every process sees the same dataset) and saves the final parameters.
SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, jax, tensorflow_datasets as tfds
    from disentax import config as cfg
    from disentax.runner import loop
    name, dataset, workdir, out = sys.argv[1:5]
    c = cfg.load_config_file(name)
    c.dataset = dataset
    c.batch_size, c.num_steps, c.log_every, c.checkpoint_every, c.progress = 8, 4, 2, 4, False
    c.model.encoder, c.model.mlp_hidden, c.model.latent_dim = "mlp", (16,), 4
    if c.method == "ml_vae":
        c.ml_vae.group_size, c.ml_vae.style_dim, c.ml_vae.content_dim = 2, 2, 2  # 4 groups = this host's 4 rows: the ambiguous case
    with tfds.testing.mock_data(num_examples=40):
        r = loop.train(cfg.validate(c), workdir, finish=False)
    leaves = [np.asarray(l.addressable_data(0)) for l in jax.tree.leaves(r["state"].params)]
    if jax.process_index() == 0:
        np.savez(out, *leaves)
""")


def _launch(tmp_path, name, dataset, tag, devices, process_id=None, port=None):
    args = [name, dataset, str(tmp_path / tag), str(tmp_path / f"{tag}.npz")]
    return launch_python(["-c", SCRIPT, *args], devices, process_id, port)


@pytest.mark.parametrize("name", ["beta_vae_dsprites", "ml_vae_mnist"])
def test_two_processes_reading_their_rows_train_what_one_process_trains(tmp_path, name):
    port = free_port()
    procs = [_launch(tmp_path, name, "mnist", "two", 2, i, port) for i in (0, 1)]
    procs.append(_launch(tmp_path, name, "mnist", "one", 4))
    for p in procs:
        finish(p)
    two, one = np.load(tmp_path / "two.npz"), np.load(tmp_path / "one.npz")
    assert len(two.files) == len(one.files) > 0
    for k in one.files:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-4, atol=1e-6)
