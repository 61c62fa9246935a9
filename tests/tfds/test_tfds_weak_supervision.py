"""Semi-supervised and ML-VAE training on TFDS label datasets (mock MNIST/SVHN, offline): the
labelled set, the supervision rate, label groups, and the three configs through the real loop."""

import jax
import numpy as np
import pytest

tfds = pytest.importorskip(
    "tensorflow_datasets", reason="tensorflow-datasets not installed: pip install '.[tfds]'"
)

from disentax import config as cfg  # noqa: E402
from disentax.data import class_index as ci  # noqa: E402
from disentax.data import registry  # noqa: E402
from disentax.data.groups import group_batch_sampler  # noqa: E402
from disentax.data.labelled import labelled_indices, semi_supervised_sampler  # noqa: E402
from disentax.runner import loop  # noqa: E402
from disentax.train.checkpoint import Checkpointer  # noqa: E402
from disentax.train.logging import read_metrics  # noqa: E402

from helpers import configure, same_leaves, train_until_interrupted  # noqa: E402

N = 160  # mock records: 7-26 per class of MNIST's 10



def _record_labels(ds):
    return np.asarray([int(ds.source[i]["label"]) for i in range(ds.num_examples)])


def test_labelled_set_has_exactly_l_per_class_fixed_by_the_seed():
    with tfds.testing.mock_data(num_examples=N):
        ds = registry.get_dataset("mnist")
        truth = _record_labels(ds)
        idx = labelled_indices(ds, "label", 4, seed=3)
        assert idx.size == 40 and np.unique(idx).size == 40
        np.testing.assert_array_equal(np.bincount(truth[idx], minlength=10), np.full(10, 4))
        # Same seed, another dataset object (a fresh scan): the same records; another seed: others.
        np.testing.assert_array_equal(idx, labelled_indices(registry.get_dataset("mnist"), "label", 4, seed=3))
        assert not np.array_equal(idx, labelled_indices(ds, "label", 4, seed=4))
        np.testing.assert_array_equal(ci.class_index(ds).labels, truth)
        with pytest.raises(ValueError, match="exceeds"):
            labelled_indices(ds, "label", np.bincount(truth).min() + 1, seed=0)
        with pytest.raises(ValueError, match="allowed: label"):
            labelled_indices(ds, "shape", 1, seed=0)


def test_host_sampler_honours_the_rate_and_labels_only_the_labelled_set():
    rate, steps = 0.3, 300
    with tfds.testing.mock_data(num_examples=N):
        ds = registry.get_dataset("mnist")
        truth = _record_labels(ds)
        images = ds.read(np.arange(N))[0].reshape(N, -1)
        lab = labelled_indices(ds, "label", 2, seed=0)
        sample = semi_supervised_sampler(0, lab, rate)
        keys = jax.random.split(jax.random.PRNGKey(0), steps)
        batches = [sample(ds, k, 4) for k in keys]
        flags = np.asarray([bool(b["supervised"]) for b in batches])
        # The flag is the device sampler's coin: uniform(first of split(key, 3)) < r.
        want = np.asarray([float(jax.random.uniform(jax.random.split(k, 3)[0])) < rate for k in keys])
        np.testing.assert_array_equal(flags, want)
        assert abs(flags.mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / steps)
        for b in batches[:60]:
            x = np.asarray(b["x"]).reshape(4, -1)
            rec = [int(np.flatnonzero((images == row).all(1))[0]) for row in x]  # which record each image is
            if b["supervised"]:
                assert set(rec) <= set(lab.tolist())
                np.testing.assert_array_equal(b["labels"], truth[rec])
            else:
                assert (np.asarray(b["labels"]) == -1).all()
        again = sample(registry.get_dataset("mnist"), keys[7], 4)  # pure in the key
        assert all(np.array_equal(np.asarray(again[k]), np.asarray(batches[7][k])) for k in again)
        assert [semi_supervised_sampler(0, lab, r)(ds, keys[0], 2)["supervised"] for r in (0.0, 1.0)] == [False, True]


@pytest.mark.parametrize("ragged", [False, True])
def test_ml_vae_batches_hold_groups_of_one_label(ragged):
    with tfds.testing.mock_data(num_examples=N):
        ds = registry.get_dataset("mnist")
        truth = _record_labels(ds)
        images = ds.read(np.arange(N))[0].reshape(N, -1)
        sample = group_batch_sampler("label", 4, ragged)
        seen = set()
        for k in jax.random.split(jax.random.PRNGKey(1), 8):
            b = sample(ds, k, 16)
            seg, values = np.asarray(b["segment_ids"]), np.asarray(b["group_values"])
            assert values.shape == (4,) and seg.shape == (16,) and set(seg.tolist()) == {0, 1, 2, 3}
            x = np.asarray(b["x"]).reshape(16, -1)
            rec = np.asarray([int(np.flatnonzero((images == row).all(1))[0]) for row in x])
            np.testing.assert_array_equal(truth[rec], values[seg])  # every member has its group's label
            np.testing.assert_array_equal(np.asarray(b["factors"])[:, 0], values[seg])
            seen.update(rec.tolist())
        assert len(seen) > 40  # images drawn across the classes' members, not one per class


def _tiny(name, **overrides):
    c = cfg.load_config_file(name)
    c.batch_size, c.num_steps, c.log_every, c.checkpoint_every = 8, 6, 2, 3
    c.progress, c.num_viz_images = False, 4
    c.model.latent_dim = 4
    if c.model.encoder == "mlp":
        c.model.mlp_hidden = (32,)
    else:
        c.model.conv_channels, c.model.hidden = (8, 8, 8), (16,)
    if c.method == "semi_supervised":
        c.semi_supervised.labels_per_class, c.semi_supervised.supervision_rate = 3, 0.5
    else:
        c.ml_vae.group_size, c.ml_vae.style_dim, c.ml_vae.content_dim = 4, 3, 3
    return configure(c, **overrides)


@pytest.mark.parametrize("name,pictures", [("semi_supervised_svhn", ["analogies.png"]),
                                           ("ml_vae_mnist", ["swapping.png", "generation.png"])])
def test_config_trains_on_mock_data_without_nan(tmp_path, name, pictures):
    c = _tiny(name)
    with tfds.testing.mock_data(num_examples=N):
        out = loop.train(c, tmp_path, finish=True)
    records = read_metrics(tmp_path)
    assert out["step"] == 6 and len(records) == 3
    assert all(np.isfinite(r["loss"]) for r in records)
    for p in pictures:
        assert (tmp_path / p).stat().st_size > 0


def test_semi_supervised_mnist_resumes_exactly(tmp_path, monkeypatch):
    c = _tiny("semi_supervised_mnist")
    with tfds.testing.mock_data(num_examples=N):
        straight = loop.train(c, tmp_path / "straight", finish=False)
        train_until_interrupted(c, tmp_path / "resumed", 4, monkeypatch)
        assert Checkpointer(tmp_path / "resumed" / "checkpoints").latest_step() == 4
        resumed = loop.train(c, tmp_path / "resumed", finish=False)
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "resumed")
    assert all(np.isfinite(r["loss"]) for r in a)
    assert same_leaves(straight["state"].params, resumed["state"].params)
    assert same_leaves(straight["state"].opt_state, resumed["state"].opt_state)
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
