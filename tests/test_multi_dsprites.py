import colorsys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.data import coloured_dsprites as cd
from disentax.data import dsprites
from disentax.data.multi_dsprites import MultiDSprites, hsv_to_rgb, render_objects, render_scene
from disentax.data.registry import available, get_dataset


def test_registered():
    assert {"multi_dsprites", "coloured_dsprites"} <= set(available())
    assert isinstance(get_dataset("multi_dsprites"), MultiDSprites)
    assert get_dataset("coloured_dsprites").image_shape == (32, 32, 3)


def test_object_count_matches_rendered_objects():
    ds = MultiDSprites(max_objects=4, p_present=0.5)
    s = ds.sample_scenes(jax.random.PRNGKey(3), 24)
    alone = np.asarray(render_objects(s["factors"], s["colours"], s["present"]))  # [n, K, 64, 64, 3]
    non_empty = (alone.reshape(24, 4, -1) > 0).any(-1).sum(-1)
    counts = np.asarray(s["counts"])
    np.testing.assert_array_equal(non_empty, counts)
    assert set(counts.tolist()) >= {0, 1, 2, 3}, counts  # the draw covers several counts
    # The scene is the clipped sum of its objects, and sample() returns the same pair.
    np.testing.assert_allclose(np.asarray(s["images"]), np.clip(alone.sum(1), 0, 1), atol=1e-6)
    x, c = ds.sample(jax.random.PRNGKey(3), 24)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(s["images"]))
    np.testing.assert_array_equal(np.asarray(c), counts)


def test_clipped_sum_blending_on_a_hand_made_pair():
    # A big square and a small ellipse at the same centre, so they overlap.
    factors = jnp.asarray([[[0, 5, 0, 16, 16], [1, 0, 0, 16, 16]]], jnp.int32)
    colours = jnp.asarray([[[0.8, 0.5, 0.0], [0.6, 0.0, 0.3]]], jnp.float32)
    present = jnp.asarray([[True, True]])
    img = np.asarray(render_scene(factors, colours, present))[0]
    masks = np.asarray(dsprites.render(factors))[0, ..., 0]  # [2, 64, 64]
    both = (masks[0] > 0) & (masks[1] > 0)
    only0 = (masks[0] > 0) & ~(masks[1] > 0)
    assert both.sum() > 10 and only0.sum() > 10
    np.testing.assert_allclose(img[both], np.broadcast_to([1.0, 0.5, 0.3], img[both].shape), atol=1e-6)
    np.testing.assert_allclose(img[only0], np.broadcast_to([0.8, 0.5, 0.0], img[only0].shape), atol=1e-6)
    assert np.all(img[(masks[0] == 0) & (masks[1] == 0)] == 0)
    # Absent sprites leave no trace.
    img0 = np.asarray(render_scene(factors, colours, jnp.asarray([[True, False]])))[0]
    np.testing.assert_allclose(img0[masks[0] > 0], np.broadcast_to([0.8, 0.5, 0.0], img0[masks[0] > 0].shape))


def test_hsv_to_rgb_matches_colorsys():
    hsv = np.random.default_rng(0).uniform(size=(50, 3)).astype(np.float32)
    expected = np.array([colorsys.hsv_to_rgb(*row) for row in hsv.astype(np.float64)])
    np.testing.assert_allclose(np.asarray(hsv_to_rgb(jnp.asarray(hsv))), expected, atol=1e-5)


def test_multi_dsprites_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_objects"):
        MultiDSprites(max_objects=0)
    with pytest.raises(ValueError, match="p_present"):
        MultiDSprites(p_present=1.5)


def test_coloured_dsprites_factors_match_what_is_rendered():
    ds = cd.ColouredDSprites()
    assert ds.num_examples == 3 * 3 * 8 * 8 * 6 * 5
    x, f = ds.sample(jax.random.PRNGKey(1), 40)
    x, f = np.asarray(x, np.float64), np.asarray(f)
    for img, fac in zip(x, f):
        shape, scale, px, py, fg, bg = fac
        # Independent coverage: the 64x64 dSprites mask at the mapped grid point, 2x2-averaged.
        ds_f = np.array([shape, cd.SCALE_INDEX[scale], 0, cd.POSITION_INDEX[px], cd.POSITION_INDEX[py]])
        mask = np.asarray(dsprites.render(jnp.asarray(ds_f)))[..., 0].astype(np.float64)
        cover = mask.reshape(32, 2, 32, 2).mean(axis=(1, 3))[..., None]
        expected = cd.BG_COLOURS[bg] * (1 - cover) + cd.FG_COLOURS[fg] * cover
        np.testing.assert_allclose(img, expected, atol=1e-6)
        assert np.allclose(img[0, 0], cd.BG_COLOURS[bg]) and (cover == 1).any()
    # Position and scale factors move and grow the sprite as named.
    base = np.array([0, 0, 0, 3, 2, 1])
    def cover_of(fac):
        return np.asarray(cd.sprite_coverage(jnp.asarray(fac)))[..., 0]
    cols = np.arange(32)
    covers = [cover_of(base + np.array([0, 0, i, 0, 0, 0])) for i in range(8)]
    centres = [np.sum(c * cols[None, :]) / c.sum() for c in covers]
    assert np.all(np.diff(centres) > 0)
    areas = [cover_of(base + np.array([0, s, 0, 0, 0, 0])).sum() for s in range(3)]
    assert np.all(np.diff(areas) > 0)
