"""Tests for the procedural dSprites renderer and the GroundTruthDataset interface."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.data import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SHAPE,
    NUM_EXAMPLES,
    SHAPES,
    DSprites,
    GroundTruthDataset,
    factor_values,
    render,
)

DS = DSprites()
_render_jit = jax.jit(render)


def _np_render(factors):
    return np.asarray(_render_jit(jnp.asarray(factors, dtype=jnp.int32)))


def _grid(*columns):
    """Cartesian product of per-factor value lists -> int array [N, 5]."""
    mesh = np.meshgrid(*[np.asarray(c) for c in columns], indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=-1).astype(np.int32)


def _centre_of_mass(images):
    img = images[..., 0]
    mass = img.sum(axis=(-2, -1))
    rows = (img * np.arange(64)[:, None]).sum(axis=(-2, -1)) / mass
    cols = (img * np.arange(64)[None, :]).sum(axis=(-2, -1)) / mass
    return rows, cols


# ----------------------------------------------------------------- factor grid


def test_grid_constants():
    assert FACTOR_NAMES == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert FACTOR_SIZES == (3, 6, 40, 32, 32)
    assert NUM_EXAMPLES == math.prod(FACTOR_SIZES) == 737280
    assert IMAGE_SHAPE == (64, 64, 1)
    assert SHAPES == ("square", "ellipse", "heart")
    assert isinstance(DS, GroundTruthDataset)
    assert DS.name == "dsprites"
    assert DS.factor_names == FACTOR_NAMES
    assert DS.factor_sizes == FACTOR_SIZES
    assert DS.num_examples == NUM_EXAMPLES
    assert DS.image_shape == IMAGE_SHAPE


def test_factor_values_at_grid_ends():
    lo = np.asarray(factor_values(np.array([0, 0, 0, 0, 0])))
    hi = np.asarray(factor_values(np.array([2, 5, 39, 31, 31])))
    assert lo.dtype == np.float32
    np.testing.assert_array_equal(lo, [0.0, 0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(hi, [2.0, 1.0, 2 * np.pi * 39 / 40, 1.0, 1.0], rtol=1e-6)
    assert hi[1] == 1.0 and hi[3] == 1.0 and hi[4] == 1.0
    mid = np.asarray(factor_values(np.array([[1, 1, 10, 1, 30]])))
    np.testing.assert_allclose(mid, [[1.0, 0.6, np.pi / 2, 1 / 31, 30 / 31]], rtol=1e-6)


# ------------------------------------------------------------- index <-> grid


def test_index_round_trip_all_numpy():
    idx = np.arange(NUM_EXAMPLES)
    f = DS.index_to_factors(idx)
    assert f.shape == (NUM_EXAMPLES, 5)
    assert (f.min(axis=0) == 0).all()
    np.testing.assert_array_equal(f.max(axis=0), np.array(FACTOR_SIZES) - 1)
    # Row-major over the grid: equals numpy's own unravel in C order.
    np.testing.assert_array_equal(f, np.stack(np.unravel_index(idx, FACTOR_SIZES), -1))
    np.testing.assert_array_equal(DS.factors_to_index(f), idx)


def test_index_round_trip_jax_jit():
    idx = jax.random.randint(jax.random.key(0), (4, 500), 0, NUM_EXAMPLES)
    to_f = jax.jit(DS.index_to_factors)
    f = to_f(idx)
    assert f.shape == (4, 500, 5)
    back = jax.jit(lambda i: DS.factors_to_index(DS.index_to_factors(i)))(idx)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(idx))
    np.testing.assert_array_equal(np.asarray(f), DS.index_to_factors(np.asarray(idx)))


@pytest.mark.parametrize(
    "factors,index",
    [
        ((0, 0, 0, 0, 0), 0),
        ((0, 0, 0, 0, 1), 1),
        ((0, 0, 0, 1, 0), 32),
        ((0, 0, 1, 0, 0), 1024),
        ((0, 1, 0, 0, 0), 40960),
        ((1, 0, 0, 0, 1), 737280 // 3 + 1),
        ((2, 5, 39, 31, 31), 737279),
    ],
)
def test_hand_computed_indices(factors, index):
    assert int(DS.factors_to_index(np.array(factors))) == index
    np.testing.assert_array_equal(DS.index_to_factors(index), factors)


def test_index_errors_name_value_and_range():
    with pytest.raises(ValueError, match=r"737280.*\[0, 737280\)"):
        DS.index_to_factors(737280)
    with pytest.raises(ValueError, match="-1"):
        DS.index_to_factors(np.array([3, -1]))
    with pytest.raises(ValueError, match=r"value 6 .*\[0, 6\).*'scale'"):
        DS.factors_to_index(np.array([0, 6, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"\[\.\.\., 5\]"):
        DS.factors_to_index(np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="'pos_y'"):
        DS.render(np.array([0, 0, 0, 0, 32]))


# ------------------------------------------------------------------- rendering


def test_every_shape_scale_orientation_fits_in_canvas():
    corners = [(0, 0), (31, 31), (0, 31), (31, 0)]
    base = _grid(range(3), range(6), range(40), [0], [0])  # 720 combinations
    f = np.concatenate([base + np.array([0, 0, 0, x, y]) for x, y in corners])
    images = _np_render(f)
    assert images.shape == (4 * 720, 64, 64, 1)
    lit = images[..., 0].sum(axis=(1, 2))
    assert lit.min() >= 20, "smallest sprite too small"
    border = np.concatenate(
        [images[:, 0, :, 0], images[:, -1, :, 0], images[:, :, 0, 0], images[:, :, -1, 0]],
        axis=1,
    )
    assert border.max() == 0.0, "a sprite touches the image border"


def test_values_binary_dtype_and_shape():
    f = DS.sample_factors(jax.random.key(1), 6).reshape(2, 3, 5)
    images = DS.render(f)
    assert images.shape == (2, 3, 64, 64, 1)
    assert images.dtype == jnp.float32
    assert set(np.unique(np.asarray(images)).tolist()) == {0.0, 1.0}
    assert DS.render(np.array([1, 2, 3, 4, 5])).shape == (64, 64, 1)


def test_rendering_and_sampling_are_deterministic():
    f = np.array([[2, 3, 7, 11, 19], [0, 5, 13, 2, 30]])
    np.testing.assert_array_equal(np.asarray(DS.render(f)), np.asarray(DS.render(f)))
    sample = jax.jit(lambda k: DS.sample(k, 16))
    im1, f1 = sample(jax.random.key(7))
    im2, f2 = sample(jax.random.key(7))
    im3, f3 = sample(jax.random.key(8))
    np.testing.assert_array_equal(np.asarray(im1), np.asarray(im2))
    np.testing.assert_array_equal(np.asarray(f1), np.asarray(f2))
    assert not np.array_equal(np.asarray(f1), np.asarray(f3))
    # The jitted batch matches rendering its factors eagerly.
    np.testing.assert_array_equal(np.asarray(im1), np.asarray(DS.render(f1)))


def test_position_moves_centre_of_mass():
    xs = _grid(range(3), [5], [0], range(32), [15])
    rows, cols = _centre_of_mass(_np_render(xs))
    cols, rows = cols.reshape(3, 32), rows.reshape(3, 32)
    assert (np.diff(cols, axis=1) > 0).all(), "pos_x must move sprites right along columns"
    assert np.ptp(rows, axis=1).max() < 0.5
    assert cols[:, -1].min() - cols[:, 0].max() > 30  # sweeps most of the image

    ys = _grid(range(3), [5], [0], [15], range(32))
    rows, cols = _centre_of_mass(_np_render(ys))
    rows, cols = rows.reshape(3, 32), cols.reshape(3, 32)
    assert (np.diff(rows, axis=1) > 0).all(), "pos_y must move sprites down along rows"
    assert np.ptp(cols, axis=1).max() < 0.5


def test_scale_increases_square_area():
    f = _grid([0], range(6), [0], [15], [15])
    area = _np_render(f)[..., 0].sum(axis=(1, 2))
    assert (np.diff(area) > 0).all()
    # Axis-aligned square of side 2 * 8 * scale pixels.
    np.testing.assert_allclose(area[[0, -1]], [8 * 8, 16 * 16], atol=16)


def test_quarter_turn_leaves_square_unchanged():
    f = _grid([0], [0, 3, 5], range(0, 30, 3), [4, 17], [9, 28])
    g = f.copy()
    g[:, 2] += 10  # 10 of 40 orientation steps = pi / 2
    a, b = _np_render(f), _np_render(g)
    diff = np.abs(a - b).sum(axis=(1, 2, 3))
    assert diff.max() <= 2


def test_ellipse_is_elongated_and_heart_points_down():
    f = np.array([[1, 5, 0, 15, 15], [2, 5, 0, 15, 15], [1, 5, 10, 15, 15]])
    ellipse, heart, ellipse_turned = _np_render(f)[..., 0]
    lit_rows = np.flatnonzero(ellipse.any(axis=1))
    lit_cols = np.flatnonzero(ellipse.any(axis=0))
    assert lit_cols.size > 1.7 * lit_rows.size  # wide at orientation 0
    assert np.flatnonzero(ellipse_turned.any(axis=0)).size < lit_rows.size + 2
    # Heart: the widest rows (lobes) are in the upper half, the tip is at the bottom.
    hrows = np.flatnonzero(heart.any(axis=1))
    widths = heart[hrows].sum(axis=1)
    assert np.argmax(widths) < hrows.size / 2
    assert widths[-1] <= 3


def test_shapes_differ_at_same_factors():
    for scale, orient in [(0, 0), (5, 7), (3, 23)]:
        images = _np_render(_grid(range(3), [scale], [orient], [12], [20]))
        for i in range(3):
            for j in range(i + 1, 3):
                assert np.abs(images[i] - images[j]).sum() >= 8


# -------------------------------------------------------------------- sampling


def test_sample_with_fixed_holds_factor():
    key = jax.random.key(3)
    for factor in [0, "scale", 2, "pos_x", "pos_y"]:
        k = DS.factor_index(factor)
        f = np.asarray(DS.sample_factors_with_fixed(key, 200, factor))
        assert f.shape == (200, 5)
        assert (f[:, k] == f[0, k]).all(), factor
        for other in range(5):
            if other != k:
                assert np.unique(f[:, other]).size > 1, (factor, other)
        # An explicit value, given by name or by index, is held and agrees.
        value = FACTOR_SIZES[k] - 1
        f_named = DS.sample_factors_with_fixed(key, 200, FACTOR_NAMES[k], value)
        f_index = DS.sample_factors_with_fixed(key, 200, k, value)
        np.testing.assert_array_equal(np.asarray(f_named), np.asarray(f_index))
        assert (np.asarray(f_named)[:, k] == value).all()
    # Images follow the factors, also under jit.
    images, f = jax.jit(lambda k: DS.sample_with_fixed(k, 32, "orientation", 7))(key)
    assert images.shape == (32, 64, 64, 1)
    assert (np.asarray(f)[:, 2] == 7).all()
    np.testing.assert_array_equal(np.asarray(images), _np_render(f))


def test_sample_with_fixed_draws_value_from_key():
    drawn = {
        int(DS.sample_factors_with_fixed(jax.random.key(s), 4, "orientation")[0, 2])
        for s in range(12)
    }
    assert len(drawn) > 3


def test_invalid_factor_or_value_raises():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="'colour'"):
        DS.sample_factors_with_fixed(key, 4, "colour")
    with pytest.raises(ValueError, match=r"factor index 5 out of range \[0, 5\)"):
        DS.sample_with_fixed(key, 4, 5)
    with pytest.raises(ValueError, match=r"value 6 out of range \[0, 6\) for factor 'scale'"):
        DS.sample_factors_with_fixed(key, 4, "scale", 6)
    with pytest.raises(ValueError, match="'shape'"):
        DS.sample_factors_with_fixed(key, 4, 0, -1)
    with pytest.raises(ValueError, match="'pos_x'"):
        DS.sample_factors_with_fixed(key, 4, "pos_x", 1.5)


def test_sampling_is_roughly_uniform():
    f = np.asarray(DS.sample_factors(jax.random.key(11), 20000))
    assert f.dtype == np.int32 and f.shape == (20000, 5)
    for k, size in enumerate(FACTOR_SIZES):
        counts = np.bincount(f[:, k], minlength=size)
        assert counts.size == size
        expected = 20000 / size
        assert np.abs(counts - expected).max() < 0.2 * expected, FACTOR_NAMES[k]


# -------------------------------------------------------------------- identity


def test_dataset_is_hashable_immutable_and_jittable():
    other = DSprites()
    assert other == DS and hash(other) == hash(DS)
    assert len({DS, other}) == 1
    with pytest.raises(AttributeError):
        DS.name = "x"
    images, f = jax.jit(DS.sample, static_argnums=1)(jax.random.key(0), 8)
    assert images.shape == (8, 64, 64, 1) and f.shape == (8, 5)
    idx = np.array([0, 737279])
    np.testing.assert_array_equal(
        np.asarray(DS.images_from_indices(idx)), _np_render(DS.index_to_factors(idx))
    )
