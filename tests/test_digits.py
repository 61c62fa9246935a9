import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

from disentax.data.digits import Digits, load_digits_arrays, split_indices
from disentax.data.registry import get_dataset


def test_all_images_are_sklearn_digits_scaled_to_unit_interval():
    images, labels = load_digits_arrays()
    ref = load_digits()
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    assert labels.shape == (1797,) and set(np.unique(labels)) == set(range(10))
    np.testing.assert_array_equal(images[..., 0], (ref.images / 16.0).astype(np.float32))
    np.testing.assert_array_equal(labels, ref.target)
    assert images.min() == 0.0 and images.max() == 1.0


def test_split_is_disjoint_complete_stratified_and_fixed():
    train, test = split_indices()
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
    _, labels = load_digits_arrays()
    total = np.bincount(labels, minlength=10)
    np.testing.assert_array_equal(np.bincount(labels[test], minlength=10), np.round(0.2 * total).astype(int))
    split_indices.cache_clear()
    train2, test2 = split_indices()
    np.testing.assert_array_equal(train, train2)
    np.testing.assert_array_equal(test, test2)
    tr, te = Digits("train"), Digits("test")
    assert tr.num_examples + te.num_examples == 1797 and te.num_examples == 359
    with pytest.raises(ValueError, match="allowed: train, test, all"):
        Digits("validation")


def test_sample_returns_real_examples_with_their_labels():
    ds = get_dataset("digits")
    assert ds.factor_names == ("label",) and ds.factor_sizes == (10,) and ds.image_shape == (8, 8, 1)
    x, y = jax.jit(lambda k: ds.sample(k, 64))(jax.random.PRNGKey(0))
    assert x.shape == (64, 8, 8, 1) and y.shape == (64, 1) and x.dtype == jnp.float32
    flat = ds.np_images.reshape(ds.num_examples, -1)
    for img, lab in zip(np.asarray(x), np.asarray(y)[:, 0]):
        hits = np.flatnonzero((flat == img.reshape(-1)).all(1))
        assert hits.size and lab in ds.np_labels[hits]
    # Same key, same batch; different key, different batch.
    x2, _ = ds.sample(jax.random.PRNGKey(0), 64)
    x3, _ = ds.sample(jax.random.PRNGKey(1), 64)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(x2))
    assert not np.array_equal(np.asarray(x), np.asarray(x3))


def test_sample_with_labels_draws_each_requested_class_uniformly():
    ds = Digits("train")
    wanted = jnp.asarray(np.repeat(np.arange(10), 300))
    idx = np.asarray(ds.indices_with_labels(jax.random.PRNGKey(3), wanted))
    np.testing.assert_array_equal(ds.np_labels[idx], np.asarray(wanted))
    # Every member of class 4 reachable, none favoured grossly (300 draws over ~143 members).
    members = np.flatnonzero(ds.np_labels == 4)
    got = idx[np.asarray(wanted) == 4]
    assert np.isin(got, members).all() and np.unique(got).size > 0.8 * min(members.size, 300) * (1 - np.exp(-300 / members.size))
    x, y = ds.sample_with_fixed(jax.random.PRNGKey(0), 7, "label", 9)
    assert (np.asarray(y) == 9).all() and x.shape == (7, 8, 8, 1)
