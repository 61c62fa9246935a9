import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.data import dsprites
from disentax.data.coloured_dsprites import FG_COLOURS
from disentax.data.identities import (
    ORIENTATION_INDEX,
    IdentitySprites,
    _make_distinct,
    sample_pairs,
    sample_verification_pairs,
)
from disentax.data.registry import available, get_dataset

DS = IdentitySprites()
N = 1000  # pairs per draw everywhere, so each sampler and DS.render compile once
PAIRS = jax.jit(lambda k: sample_pairs(DS, k, N))
VERIFY = jax.jit(lambda k: sample_verification_pairs(DS, k, N))
MAKE_DISTINCT = jax.jit(_make_distinct)


def _pixel_distinct(x1, x2):
    return (np.asarray(x1) != np.asarray(x2)).any(axis=(1, 2, 3))


def test_grid_identity_index_and_render():
    assert "identity_sprites" in available() and get_dataset("identity_sprites") == DS
    assert DS.factor_names == ("shape", "scale", "colour", "orientation", "pos_x", "pos_y")
    assert DS.factor_sizes == (3, 3, 6, 8, 8, 8) and DS.image_shape == (64, 64, 3)
    assert DS.identity_factors == ("shape", "scale", "colour") and DS.num_identities == 54
    assert ORIENTATION_INDEX.tolist() == list(range(0, 40, 5))
    ident = np.stack(np.meshgrid(range(3), range(3), range(6), indexing="ij"), -1).reshape(-1, 3)
    f = np.concatenate([ident, np.tile([[3, 2, 5]], (54, 1))], axis=1)
    ids = np.asarray(DS.identity_of(f))
    np.testing.assert_array_equal(ids, np.ravel_multi_index(ident.T, (3, 3, 6)))
    np.testing.assert_array_equal(np.asarray(DS.identity_to_factors(jnp.arange(54))), ident)
    images = np.asarray(DS.render(f))
    # dSprites scales 1, 3, 5; orientation 3 -> 15 of 40; positions 2, 5 -> 9, 22 of 32.
    mask = np.asarray(dsprites.render(np.stack([f[:, 0], np.array([1, 3, 5])[f[:, 1]], np.full(54, 15),
                                                np.full(54, 9), np.full(54, 22)], -1)))
    np.testing.assert_array_equal(images, mask * FG_COLOURS[f[:, 2]][:, None, None, :])  # black background
    with pytest.raises(ValueError, match="out of range"):
        DS.render(np.array([[0, 0, 6, 0, 0, 0]]))


def test_square_and_ellipse_are_rotation_symmetric_heart_is_not():
    # Orientation steps of 45 degrees: the square repeats after 2, the ellipse after 4, the heart never.
    o = np.arange(8)
    for shape, period in ((0, 2), (1, 4), (2, 8)):
        for pos in ((0, 0), (3, 5), (7, 7)):
            f = np.stack([np.full(8, shape), np.full(8, 2), np.full(8, 1), o, np.full(8, pos[0]), np.full(8, pos[1])], -1)
            im = np.asarray(DS.render(f)).reshape(8, -1)
            same = (im[:, None] == im[None]).all(-1)
            np.testing.assert_array_equal(same, (o[:, None] - o[None]) % period == 0)


def test_pairs_share_identity_vary_observation_and_are_distinct_images():
    p = PAIRS(jax.random.PRNGKey(0))
    f1, f2 = np.asarray(p["factors1"]), np.asarray(p["factors2"])
    np.testing.assert_array_equal(f1[:, :3], f2[:, :3])
    np.testing.assert_array_equal(np.asarray(p["identity"]), np.asarray(DS.identity_of(f1)))
    assert set(np.asarray(p["identity"]).tolist()) == set(range(54))
    assert (f1[:, 3:] != f2[:, 3:]).any(axis=1).all()
    assert _pixel_distinct(p["x1"], p["x2"]).all()
    np.testing.assert_array_equal(np.asarray(p["x1"]), np.asarray(DS.render(f1)))
    np.testing.assert_array_equal(np.asarray(p["x2"]), np.asarray(DS.render(f2)))
    # Observation factors drawn independently per image: each column agrees about 1/8 of the time.
    for c in (3, 4, 5):
        agree = np.mean(f1[:, c] == f2[:, c])
        assert abs(agree - 1 / 8) < 6 * np.sqrt(1 / 8 * 7 / 8 / N), (c, agree)


def test_redraw_shifts_one_observation_factor_of_clashing_pairs_only():
    f1 = np.asarray(PAIRS(jax.random.PRNGKey(3))["factors1"])
    fixed = np.asarray(MAKE_DISTINCT(jax.random.PRNGKey(4), f1, f1))  # every pair clashes
    changed = fixed != f1
    assert (changed[:, :3] == 0).all() and (changed.sum(1) == 1).all()
    assert set(np.flatnonzero(changed.any(0))) == {3, 4, 5}
    x1, x2 = DS.render(f1), DS.render(fixed)
    assert _pixel_distinct(x1, x2).all()  # also for the rotation-symmetric square and ellipse
    pos = changed[:, 4]
    assert set(((fixed[pos, 4] - f1[pos, 4]) % 8).tolist()) == set(range(1, 8))
    sq = changed[:, 3] & (f1[:, 0] == 0)
    assert set(((fixed[sq, 3] - f1[sq, 3]) % 8).tolist()) == {1}
    other = np.array(PAIRS(jax.random.PRNGKey(5))["factors1"])  # independent observation factors
    other[:, :3] = f1[:, :3]
    kept = np.asarray(MAKE_DISTINCT(jax.random.PRNGKey(4), f1, other))
    period = np.array([2, 4, 8])[f1[:, 0]]
    clash = ((f1[:, 3] - other[:, 3]) % period == 0) & (f1[:, 4:] == other[:, 4:]).all(1)
    assert clash.sum() > 0
    np.testing.assert_array_equal(kept[~clash], other[~clash])


def test_verification_pairs_are_balanced_and_labelled():
    v = VERIFY(jax.random.PRNGKey(1))
    same, i1, i2 = np.asarray(v["same"]), np.asarray(v["identity1"]), np.asarray(v["identity2"])
    assert same.dtype == bool and same.sum() == N // 2
    np.testing.assert_array_equal(same, i1 == i2)
    assert 0 < same[: N // 2].sum() < N // 2  # shuffled, not all same pairs first
    f1, f2 = np.asarray(v["factors1"]), np.asarray(v["factors2"])
    np.testing.assert_array_equal(i1, np.asarray(DS.identity_of(f1)))
    np.testing.assert_array_equal(i2, np.asarray(DS.identity_of(f2)))
    np.testing.assert_array_equal(np.asarray(v["x1"]), np.asarray(DS.render(f1)))
    np.testing.assert_array_equal(np.asarray(v["x2"]), np.asarray(DS.render(f2)))
    assert _pixel_distinct(v["x1"], v["x2"]).all()
    assert len(set(((i2 - i1) % 54)[~same].tolist())) > 40  # offsets spread over 1..53
    with pytest.raises(ValueError, match="must be even"):
        sample_verification_pairs(DS, jax.random.PRNGKey(0), 7)
    with pytest.raises(ValueError, match="positive python int"):
        sample_pairs(DS, jax.random.PRNGKey(0), 0)


def test_sampling_is_a_pure_function_of_the_key():
    for fn in (PAIRS, VERIFY):
        a, b, c = fn(jax.random.PRNGKey(7)), fn(jax.random.PRNGKey(7)), fn(jax.random.PRNGKey(8))
        for k in a:
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
        assert not np.array_equal(np.asarray(a["x1"]), np.asarray(c["x1"]))
