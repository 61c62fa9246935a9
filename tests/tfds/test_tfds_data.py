"""TFDS loaders, offline: tensorflow-datasets' mock data, and full-grid fake sources
for the factor datasets. Nothing here may reach the network (a guard makes any socket
connection fail)."""

import jax
import numpy as np
import pytest

tfds = pytest.importorskip(
    "tensorflow_datasets", reason="tensorflow-datasets not installed: pip install '.[tfds]'"
)

from disentax.data import (
    DSprites,  # noqa: E402
    registry,  # noqa: E402
)
from disentax.data import tfds as dtfds  # noqa: E402

from grid_fakes import FakeSource, grid_sources  # noqa: E402

NATIVE = ("mnist", "fashion_mnist", "svhn_cropped", "cifar10", "dsprites", "shapes3d")
EXPECTED_SHAPE = {
    "mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "svhn_cropped": (32, 32, 3),
    "cifar10": (32, 32, 3), "celeb_a": (64, 64, 3), "smallnorb": (64, 64, 1),
    "dsprites": (64, 64, 1), "shapes3d": (64, 64, 3),
}  # fmt: skip



def _label_bounds(spec):
    if spec.labels == "factors":
        return np.asarray(spec.factor_sizes)
    if spec.labels == "attributes":
        return np.full(40, 2)
    return np.asarray(spec.num_classes)


@pytest.mark.parametrize("name", list(dtfds.SPECS))
def test_every_loader_every_split_on_mock_data(name):
    spec = dtfds.SPECS[name]
    with tfds.testing.mock_data(num_examples=10):
        for split in spec.splits:
            ds = dtfds.TFDSImages(name, split)
            assert ds.num_examples == 10 and ds.image_shape == EXPECTED_SHAPE[name]
            idx = np.array([7, 0, 3, 3])
            x, y = ds.read(idx)
            assert x.shape == (4, *EXPECTED_SHAPE[name]) and x.dtype == np.float32
            assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > x.min()
            raw = [ds.source[int(i)] for i in idx]
            if name in NATIVE:  # no resizing: exactly the stored bytes / 255 (dSprites: lit or not)
                want = np.stack([np.asarray(r["image"]) for r in raw]).astype(np.float32)
                want = (want > 0).astype(np.float32) if spec.binary else want / 255
                np.testing.assert_array_equal(x, want)
            assert y.dtype == np.int32 and (y >= 0).all() and (y < _label_bounds(spec)).all()
            if spec.labels == "label":
                assert y.tolist() == [int(r["label"]) for r in raw]
            elif spec.labels == "factors":
                assert y.shape == (4, len(spec.factor_keys))
                assert y[:, -1].tolist() == [int(r[spec.factor_keys[-1]]) for r in raw]
            else:
                assert y.shape == (4, 40)
                assert y[:, 20].tolist() == [int(r["attributes"]["Male"]) for r in raw]
        with pytest.raises(ValueError, match="allowed: " + ", ".join(spec.splits)):
            dtfds.TFDSImages(name, "no_such_split")


def test_dsprites_stored_as_zeros_and_ones_reads_as_zeros_and_ones():
    # TFDS keeps the released dSprites array as it is: pixel values 0 and 1, not 0 and 255.
    image = np.zeros((64, 64, 1), np.uint8)
    image[10:20, 30:40] = 1
    keys = dtfds.SPECS["dsprites"].factor_keys

    def fake(self, split, decoders=None, **kw):
        return FakeSource(3, lambda i: {**{k: 0 for k in keys}, "image": image})

    with tfds.testing.mock_data(as_data_source_fn=fake):
        x, _ = dtfds.TFDSImages("dsprites").read([0, 2])
        small, _ = dtfds.TFDSImages("dsprites", image_size=32).read([1])
    np.testing.assert_array_equal(x[0], image.astype(np.float32))
    assert small.max() == 1.0 and small[0, 6:9, 16:19].min() == 1.0 and small[0, :4].max() == 0.0


def test_celeb_a_is_centre_cropped_then_resized_to_64():
    h, w, c = 218, 178, dtfds.CELEB_A_CROP
    top, left = (h - c) // 2, (w - c) // 2
    image = np.full((h, w, 3), 255, np.uint8)  # white outside the crop window
    image[top : top + c, left : left + c] = 0
    image[top : top + c // 2, left : left + c, 1] = 200  # upper half of the crop green

    def fake(self, split, decoders=None, **kw):
        attrs = {a: (k % 3 == 0) for k, a in enumerate(dtfds.CELEB_A_ATTRIBUTES)}
        return FakeSource(5, lambda i: {"image": image, "attributes": attrs})

    with tfds.testing.mock_data(as_data_source_fn=fake):
        x, y = dtfds.TFDSImages("celeb_a").read([1, 2])
    assert x.shape == (2, 64, 64, 3)
    assert (x[:, :, :, [0, 2]] == 0).all()  # nothing from outside the crop leaks in
    np.testing.assert_allclose(x[0, :31, :, 1], 200 / 255, atol=1e-6)
    np.testing.assert_allclose(x[0, 33:, :, 1], 0, atol=1e-6)
    assert y[0].tolist() == [int(k % 3 == 0) for k in range(40)]


def test_shuffling_is_seeded_and_each_epoch_covers_every_record_once():
    with tfds.testing.mock_data(num_examples=10):
        ds = dtfds.TFDSImages("mnist")
        a, b, c = ds.epoch_order(0, 0), ds.epoch_order(0, 0), ds.epoch_order(1, 0)
        np.testing.assert_array_equal(a, b)
        assert sorted(a.tolist()) == list(range(10)) and not np.array_equal(a, c)
        assert not np.array_equal(a, ds.epoch_order(0, 1))
        # Batches of 4 over 10 records: steps 0..4 span epochs 0 and 1 exactly.
        walk = np.concatenate([ds.batch_indices(0, s, 4) for s in range(5)])
        np.testing.assert_array_equal(walk, np.concatenate([a, ds.epoch_order(0, 1)]))
        x1, y1 = next(ds.batches(0, 4, start_step=3))
        x2, y2 = ds.read(walk[12:16])
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
        k0, k1 = jax.random.PRNGKey(0), jax.random.PRNGKey(1)
        np.testing.assert_array_equal(ds.sample(k0, 6)[0], ds.sample(k0, 6)[0])
        assert not np.array_equal(ds.sample_indices(k0, 6), ds.sample_indices(k1, 6))


@pytest.mark.parametrize("hosts", [2, 3])
def test_per_host_shards_are_disjoint_and_cover_the_global_batch(hosts):
    with tfds.testing.mock_data(num_examples=10):
        whole = dtfds.TFDSImages("mnist", process_index=0, process_count=1)
        shards = [dtfds.TFDSImages("mnist", process_index=p, process_count=hosts) for p in range(hosts)]
        key = jax.random.PRNGKey(3)
        for step in range(4):
            parts = [s.batch_indices(5, step, 6) for s in shards]
            assert all(len(p) == 6 // hosts for p in parts)
            np.testing.assert_array_equal(np.concatenate(parts), whole.batch_indices(5, step, 6))
        # Five steps of 6 = three epochs of 10, split over hosts: each record three times in all.
        seen = np.concatenate([s.batch_indices(5, t, 6) for s in shards for t in range(5)])
        assert np.bincount(seen, minlength=10).tolist() == [3] * 10
        np.testing.assert_array_equal(
            np.concatenate([s.sample_indices(key, 6) for s in shards]), whole.sample_indices(key, 6)
        )
        with pytest.raises(ValueError, match="divisible by the number of hosts"):
            shards[0].sample_indices(key, 7 if hosts == 2 else 8)


# ------------------------------------------------------------------ ground-truth grids


def test_tfds_dsprites_equals_the_procedural_dsprites_index_for_index():
    procedural = DSprites()

    def image_of(flat):
        factors = procedural.index_to_factors(np.asarray([flat]))
        return (np.asarray(procedural.render(factors))[0] * 255).astype(np.uint8)

    with tfds.testing.mock_data(as_data_source_fn=grid_sources("dsprites", image_of)):
        ds = registry.get_dataset("dsprites_tfds")
        assert isinstance(ds, dtfds.TFDSDSprites) and ds.on_host
        assert (ds.factor_names, ds.factor_sizes, ds.num_examples, ds.image_shape) == (
            procedural.factor_names, procedural.factor_sizes, procedural.num_examples,
            procedural.image_shape,
        )
        every = np.arange(ds.num_examples)
        np.testing.assert_array_equal(ds.index_to_factors(every), procedural.index_to_factors(every))
        np.testing.assert_array_equal(ds.factors_to_index(ds.index_to_factors(every)), every)
        table = ds.record_of()
        assert sorted(table[::997].tolist()) == sorted(set(table[::997].tolist()))
        idx = np.array([0, 1, 31, 32, 1279, 40960, 368640, 737279])
        np.testing.assert_array_equal(ds.images_from_indices(idx), procedural.images_from_indices(idx))
        key = jax.random.PRNGKey(7)
        (xa, fa), (xb, fb) = ds.sample(key, 16), procedural.sample(key, 16)
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(xa, xb)
        (xa, fa), (xb, fb) = ds.sample_with_fixed(key, 8, "shape", 2), procedural.sample_with_fixed(key, 8, "shape", 2)
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(xa, xb)
        assert (np.asarray(fa)[:, 0] == 2).all()


def _code_image(shape):
    def image_of(flat):  # a constant image per example encoding its flat index
        values = np.asarray([flat % 251, (flat // 251) % 251, (flat // 63001) % 251], np.uint8)
        return np.broadcast_to(values[: shape[2]], shape).copy()

    return image_of


def _decode(images):
    v = np.rint(np.asarray(images)[..., 0, 0, :] * 255).astype(np.int64)
    out = v[..., 0]
    if v.shape[-1] == 3:
        out = out + 251 * v[..., 1] + 63001 * v[..., 2]
    return out


@pytest.mark.parametrize("name, cls", [("shapes3d", dtfds.TFDSShapes3D), ("smallnorb", dtfds.TFDSSmallNORB)])
def test_factor_grid_maps_indices_factors_and_images(name, cls):
    spec = dtfds.SPECS[name]
    with tfds.testing.mock_data(as_data_source_fn=grid_sources(name, _code_image(spec.native_shape))):
        ds = registry.get_dataset(name)
        assert type(ds) is cls and ds.factor_names == spec.factor_names
        assert ds.num_examples == int(np.prod(spec.factor_sizes)) == {"shapes3d": 480000, "smallnorb": 48600}[name]
        every = np.arange(ds.num_examples)
        factors = ds.index_to_factors(every)
        # Brute force mixed radix, last factor fastest.
        for k, size in enumerate(spec.factor_sizes):
            np.testing.assert_array_equal(factors[:, k], (every // int(np.prod(spec.factor_sizes[k + 1 :]))) % size)
        np.testing.assert_array_equal(ds.factors_to_index(factors), every)
        key = jax.random.PRNGKey(1)
        images, f = ds.sample(key, 12)
        assert images.shape == (12, *EXPECTED_SHAPE[name]) and images.dtype == np.float32
        flat = ds.factors_to_index(np.asarray(f))
        np.testing.assert_array_equal(_decode(images) , flat if name == "shapes3d" else flat % 251)
        images, f = ds.sample_with_fixed(key, 6, spec.factor_names[0], 3)
        assert (np.asarray(f)[:, 0] == 3).all()
        np.testing.assert_array_equal(_decode(images) % 251, ds.factors_to_index(np.asarray(f)) % 251)


def test_a_grid_with_missing_combinations_is_refused():
    keys = dtfds.SPECS["smallnorb"].factor_keys

    def broken(self, split, decoders=None, **kw):  # right record count, every label 0
        return FakeSource(24300, lambda i: {**{k: 0 for k in keys}, "image": np.zeros((96, 96, 1), np.uint8)})

    with tfds.testing.mock_data(as_data_source_fn=broken):
        ds = dtfds.TFDSSmallNORB()
        with pytest.raises(ValueError, match="do not cover its factor grid: 48599 of 48600"):
            ds.images_from_indices(np.array([5]))


# ------------------------------------------------------------------------ missing data


@pytest.mark.parametrize("name", ["mnist", "celeb_a", "smallnorb"])
def test_missing_data_names_the_dataset_and_the_command_without_writing(tmp_path, name):
    with pytest.raises(dtfds.DatasetNotPreparedError) as info:
        if name == "smallnorb":
            dtfds.TFDSSmallNORB(data_dir=str(tmp_path))
        else:
            dtfds.TFDSImages(name, data_dir=str(tmp_path))
    message = str(info.value)
    assert "\n" not in message and repr(name) in message
    assert f"tfds build {name} --file_format=array_record --data_dir={tmp_path}" in message
    assert ("downloads/manual" in message) == (name == "celeb_a")
    assert list(tmp_path.iterdir()) == []


def test_registry_uses_tfds_data_dir_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(dtfds.DatasetNotPreparedError, match=f"--data_dir={tmp_path}"):
        registry.get_dataset("cifar10")
