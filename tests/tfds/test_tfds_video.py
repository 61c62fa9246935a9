"""Bouncing digits with MNIST glyphs (source="mnist"), offline on TFDS mock data."""
import jax
import numpy as np
import pytest

tfds = pytest.importorskip(
    "tensorflow_datasets", reason="tensorflow-datasets not installed: pip install '.[tfds]'"
)

from disentax.data import tfds as dtfds
from disentax.data.video import BouncingDigits


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_glyphs_are_the_stored_digits_and_render_in_their_channels(split):
    with tfds.testing.mock_data(num_examples=10):
        ds = BouncingDigits(split, num_frames=4, source="mnist")
        want, labels = dtfds.TFDSImages("mnist", split).read(np.arange(10))
    assert ds.num_glyphs == 10 and ds.glyphs.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(ds.glyphs), np.round(want[..., 0] * 255))  # the stored bytes
    np.testing.assert_allclose(np.asarray(ds.glyph_images(np.arange(10))), want[..., 0], atol=1e-7)
    np.testing.assert_array_equal(np.asarray(ds.labels), labels)
    clips, f = jax.jit(lambda k: ds.sample(k, 3))(jax.random.PRNGKey(0))
    clips = np.asarray(clips)
    assert clips.shape == (3, 4, 64, 64, 3) and 0.0 <= clips.min() and clips.max() <= 1.0
    np.testing.assert_array_equal(clips[..., 2], 0.0)
    np.testing.assert_array_equal(np.asarray(f["digit"]), labels[np.asarray(f["glyph"])])
    glyph_mass = want[..., 0].sum((1, 2))[np.asarray(f["glyph"])]  # [3, 2]
    for j in range(2):  # digit j alone in channel j, whole at every frame
        np.testing.assert_allclose(clips[..., j].sum((2, 3)), np.repeat(glyph_mass[:, None, j], 4, 1), rtol=1e-4)
    assert ds != BouncingDigits(split, num_frames=4) and repr(ds).endswith("source='mnist')")


def test_mnist_source_not_prepared_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(dtfds.DatasetNotPreparedError, match="tfds build mnist") as info:
        BouncingDigits(source="mnist")
    assert "\n" not in str(info.value)
