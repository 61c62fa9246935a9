"""A few training steps on mock MNIST through the real loop: host batches, prefetch, exact resume."""
import jax
import numpy as np
import pytest

tfds = pytest.importorskip(
    "tensorflow_datasets", reason="tensorflow-datasets not installed: pip install '.[tfds]'"
)

from disentax import config as cfg  # noqa: E402
from disentax.data import registry  # noqa: E402
from disentax.data.host_pipeline import PrefetchBatches, make_batch_source  # noqa: E402
from disentax.methods import build  # noqa: E402
from disentax.runner import loop  # noqa: E402
from disentax.train.checkpoint import Checkpointer  # noqa: E402
from disentax.train.logging import read_metrics  # noqa: E402

from helpers import configure  # noqa: E402


def mnist_config(**overrides):
    c = cfg.load_config_file("beta_vae_dsprites")
    c.dataset = "mnist"
    c.batch_size, c.num_steps, c.log_every, c.checkpoint_every = 8, 6, 2, 3
    c.progress = False
    c.model.encoder, c.model.mlp_hidden, c.model.latent_dim = "mlp", (32,), 4
    return configure(c, **overrides)


def _same(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_loop_batches_are_the_datasets_sample_at_fold_in_of_the_step():
    c = mnist_config()
    with tfds.testing.mock_data(num_examples=40):
        ds = registry.get_dataset("mnist")
        method = build(c, ds)
        data_key = loop.run_keys(c.seed)[1]
        source = make_batch_source(method.sample_batch, ds.on_host, data_key, 8)
        assert isinstance(source, PrefetchBatches)
        try:
            for step in (0, 1, 2, 5, 6, 3):  # in order, then a jump forward, then back
                want = ds.sample(jax.random.fold_in(data_key, step), 8)[0]
                got = source(step)
                assert isinstance(got, jax.Array) and got.shape == (8, 28, 28, 1)
                np.testing.assert_array_equal(np.asarray(got), want)
        finally:
            source.close()


def test_training_on_mock_mnist_resumes_exactly(tmp_path, monkeypatch):
    c = mnist_config()
    with tfds.testing.mock_data(num_examples=40):
        straight = loop.train(c, tmp_path / "straight", finish=False)

        real_write = loop.MetricWriter.write

        def write_then_interrupt(self, step, metrics):
            real_write(self, step, metrics)
            if step == 4:
                raise KeyboardInterrupt

        monkeypatch.setattr(loop.MetricWriter, "write", write_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            loop.train(c, tmp_path / "resumed", finish=False)
        monkeypatch.setattr(loop.MetricWriter, "write", real_write)
        assert Checkpointer(tmp_path / "resumed" / "checkpoints").latest_step() == 4
        resumed = loop.train(c, tmp_path / "resumed", finish=False)
    assert straight["step"] == resumed["step"] == 6
    assert np.isfinite(straight["metrics"]["loss"])
    assert _same(straight["state"].params, resumed["state"].params)
    assert _same(straight["state"].opt_state, resumed["state"].opt_state)
    assert [r["loss"] for r in read_metrics(tmp_path / "straight")] == [
        r["loss"] for r in read_metrics(tmp_path / "resumed")
    ]
