"""Peychev et al. (2018)'s β-sweep study pieces: the three-shapes grid, salt-and-pepper noise for the
denoising autoencoders, and the β-VAE metric whose pairs differ in one factor."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods
from disentax.data import three_shapes as ts
from disentax.data.base import GroundTruthDataset
from disentax.data.corruption import salt_and_pepper
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.metrics import beta_vae as bv
from disentax.metrics import suite

KEY = jax.random.PRNGKey(0)


# ----------------------------------------------------------------------------- the three shapes


def _reference_pixel(shape, cx, cy, size, angle, row, col):
    """Membership of one pixel centre, written out with plain floats."""
    dx, dy = col + 0.5 - cx, cy - (row + 0.5)
    u = (np.cos(angle) * dx + np.sin(angle) * dy) / size
    v = (-np.sin(angle) * dx + np.cos(angle) * dy) / size
    if shape == 0:
        return abs(u) <= 1 and abs(v) <= 1
    if shape == 1:
        return (u / 1.4) ** 2 + (v / 0.7) ** 2 <= 1
    # Equilateral triangle with circumradius sqrt(2): barycentric test against its three vertices.
    r = np.sqrt(2.0)
    a, b, c = (np.array([r * np.cos(t), r * np.sin(t)]) for t in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3,
                                                                     np.pi / 2 + 4 * np.pi / 3))
    p = np.array([u, v])

    def side(p1, p2):
        return (p2[0] - p1[0]) * (p[1] - p1[1]) - (p2[1] - p1[1]) * (p[0] - p1[0])

    return side(a, b) >= -1e-9 and side(b, c) >= -1e-9 and side(c, a) >= -1e-9


def test_renderer_matches_a_pixel_loop_for_each_shape():
    rng = np.random.default_rng(0)
    for _ in range(6):
        f = np.array([rng.integers(0, n) for n in ts.FACTOR_SIZES])
        img = np.asarray(ts.render_shapes(f))[..., 0]
        cx, cy = ts.POSITION_VALUES[f[1]], ts.POSITION_VALUES[f[2]]
        size, angle = ts.SCALE_VALUES[f[3]] * ts.BASE_SIZE, ts.ORIENTATION_VALUES[f[4]]
        ref = np.array([[_reference_pixel(f[0], cx, cy, size, angle, r, c) for c in range(64)] for r in range(64)])
        # float32 against float64 may disagree on a pixel whose centre lies on an edge.
        assert np.sum(img != ref) <= 2, f
        assert img.sum() > 20 and set(np.unique(img)) <= {0.0, 1.0}


def test_symmetries_give_duplicates_and_the_scan_removes_exactly_the_repeats():
    # A square turned by π and an ellipse turned by π render as at 0; a triangle turned by π does not.
    f0 = np.array([[0, 3, 4, 5, 0], [1, 3, 4, 5, 0], [2, 3, 4, 5, 0]])
    f1 = f0.copy()
    f1[:, 4] = 59
    a, b = np.asarray(ts.render_shapes(f0)), np.asarray(ts.render_shapes(f1))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and not np.array_equal(a[2], b[2])
    kept = ts.unique_indices()
    assert kept[0] == 0 and np.all(np.diff(kept) > 0)
    # Brute force on one shape at the smallest scale: distinct images among its 16*16*60 renders.
    n_shape = ts.GRID_SIZE // 3
    idx = np.arange(ts.GRID_SIZE)
    f = np.stack([(idx // int(np.prod(ts.FACTOR_SIZES[k + 1:]))) % n for k, n in enumerate(ts.FACTOR_SIZES)], -1)
    block = idx[(f[:, 0] == 0) & (f[:, 3] == 0)]
    imgs = np.asarray(ts.render_shapes(f[block])).reshape(block.size, -1).astype(np.uint8)
    distinct = {row.tobytes(): i for i, row in reversed(list(zip(block, imgs)))}  # first index wins
    assert sorted(distinct.values()) == sorted(set(kept) & set(block))
    # The square's π turn alone removes 16 * 16 * 6 images; the paper removed 9,459 of 276,480.
    assert ts.GRID_SIZE - kept.size > 2 * 16 * 16 * 6 and ts.GRID_SIZE == 276_480
    assert np.sum(kept < n_shape) < n_shape


def test_splits_are_disjoint_stratified_70_15_15_and_fixed():
    kept = ts.unique_indices()
    parts = {s: ts.split_indices(s) for s in ("train", "validation", "test")}
    assert sum(p.size for p in parts.values()) == kept.size
    assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), kept)
    shape_of = lambda i: i // (ts.GRID_SIZE // 3)  # noqa: E731
    for s in range(3):
        total = np.sum(shape_of(kept) == s)
        for name, frac in zip(("train", "validation", "test"), ts.SPLIT_FRACTIONS):
            assert abs(np.sum(shape_of(parts[name]) == s) - frac * total) <= 1
    assert np.array_equal(ts.split_indices("test"), ts._split("test", np.array(kept)))
    with pytest.raises(ValueError, match="unknown split 'val'"):
        ts.ThreeShapes("val")


def test_training_batches_come_from_the_split_and_metrics_reach_the_whole_grid():
    ds = get_dataset("three_shapes")
    assert ds == ts.ThreeShapes("train") and ds != ts.ThreeShapes("test") and ds.num_examples == 276_480
    images, factors = jax.jit(lambda k: ds.sample(k, 512))(KEY)
    flat = np.asarray(ds.factors_to_index(np.asarray(factors)))
    assert np.isin(flat, ts.split_indices("train")).all()
    assert not np.isin(flat, ts.split_indices("test")).any()
    assert np.array_equal(np.asarray(images), np.asarray(ts.render_shapes(factors)))
    fixed = np.asarray(ds.sample_factors_with_fixed(KEY, 4000, "orientation", 59))
    assert (fixed[:, 4] == 59).all() and len(np.unique(fixed[:, 1])) == 16


# ----------------------------------------------------------------------------- salt and pepper


def test_salt_and_pepper_flips_a_uniform_fraction_per_image():
    x = (jax.random.uniform(KEY, (400, 16, 16, 1)) < 0.3).astype(jnp.float32)
    y = salt_and_pepper(jax.random.PRNGKey(1), x, 0.2)
    flipped = np.asarray(jnp.abs(y - x)).reshape(400, -1)
    assert set(np.unique(flipped)) <= {0.0, 1.0}  # a flip is exact: 0 <-> 1
    per_image = flipped.mean(axis=1)
    assert per_image.max() <= 0.2 + 0.05 and per_image.min() < 0.02
    assert abs(per_image.mean() - 0.1) < 0.01  # f ~ U(0, 0.2): mean 0.1
    # Uniform on [0, 0.2]: about a quarter of the images below 0.05, about a quarter above 0.15.
    assert 0.17 < np.mean(per_image < 0.05) < 0.33 and 0.17 < np.mean(per_image > 0.15) < 0.33
    # Colour channels flip together; no noise leaves x as it is; the key alone decides.
    rgb = jnp.repeat(x, 3, axis=-1)
    z = salt_and_pepper(jax.random.PRNGKey(1), rgb, 0.2)
    assert np.array_equal(np.asarray(z[..., 0]), np.asarray(y[..., 0]))
    assert np.array_equal(np.asarray(z[..., 0]), np.asarray(z[..., 2]))
    assert np.array_equal(np.asarray(salt_and_pepper(KEY, x, 0.0)), np.asarray(x))


def _tiny(encoder, noise):
    over = [f"--config.model.encoder={encoder}", "--config.model.latent_dim=3", "--config.model.hidden=(16,)",
            "--config.model.conv_channels=(4,4,4,4)", "--config.model.mlp_hidden=(16,)", "--config.batch_size=4",
            f"--config.model.salt_and_pepper={noise}", "--config.beta_vae.beta=0.0", "--config.progress=False"]
    return cfg.get("beta_vae_three_shapes", over)


def test_the_denoising_vae_encodes_the_noisy_image_and_scores_the_clean_one():
    from disentax import objectives

    c = _tiny("mlp", 0.2)
    method = methods.build(c, get_dataset(c.dataset))
    x = method.sample_batch(KEY, 4)
    state = method.init_state(KEY, x)
    _, metrics = jax.jit(method.train_step)(state, x, jax.random.PRNGKey(3))
    # The step's loss by hand: the step key split once for the noise, the rest for the model.
    key, k_noise = jax.random.split(jax.random.PRNGKey(3))
    seen = salt_and_pepper(k_noise, x, 0.2)
    assert not np.array_equal(np.asarray(seen), np.asarray(x))
    o = method.model.apply({"params": state.params}, seen, key)
    loss, _ = objectives.beta_vae(x, o["out"], o["mu"], o["logvar"], beta=0.0, likelihood="bernoulli")
    np.testing.assert_allclose(float(metrics["loss"]), float(loss), rtol=1e-5)
    # Without noise nothing is split: the plain model's draws are what they always were.
    plain = methods.build(_tiny("mlp", 0.0), get_dataset(c.dataset))
    _, m0 = jax.jit(plain.train_step)(state, x, jax.random.PRNGKey(3))
    o0 = plain.model.apply({"params": state.params}, x, jax.random.PRNGKey(3))
    l0, _ = objectives.beta_vae(x, o0["out"], o0["mu"], o0["logvar"], beta=0.0, likelihood="bernoulli")
    np.testing.assert_allclose(float(m0["loss"]), float(l0), rtol=1e-5)


def test_a_noise_fraction_outside_0_1_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"config.model.salt_and_pepper must be a fraction in \[0, 1\], got 1.5"):
        _tiny("mlp", 1.5)


# ----------------------------------------------------------------------------- the changed-factor metric


class FactorGrid(GroundTruthDataset):
    """A grid whose 'image' of factors f is f itself, so a code can be any function of f."""

    def __init__(self, sizes):
        super().__init__(name="factor_grid", factor_names=[f"f{i}" for i in range(len(sizes))],
                         factor_sizes=sizes, image_shape=(len(sizes),))

    def render(self, factors):
        return jnp.asarray(factors).astype(jnp.float32)


GRID = FactorGrid((3, 4, 5, 2))


def test_pairs_differ_in_exactly_the_labelled_factor_uniformly_over_the_other_values():
    factors, idx = bv._changed_factors(GRID, 1, 6000, KEY)
    fa, fb, idx = np.asarray(factors[:6000]), np.asarray(factors[6000:]), np.asarray(idx)
    diff = fa != fb
    assert (diff.sum(axis=1) == 1).all() and (np.argmax(diff, axis=1) == idx).all()
    # Factor 2 (5 values) changed from value 0: each of the other four about a quarter of the time.
    sel = (idx == 2) & (fa[:, 2] == 0)
    counts = np.bincount(fb[sel, 2], minlength=5)
    assert counts[0] == 0 and (np.abs(counts[1:] / sel.sum() - 0.25) < 0.1).all()
    assert abs(np.mean(idx == 3) - 0.25) < 0.03


def test_features_match_a_loop_and_a_pair_of_equal_codes_gives_zeros():
    codes = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1.0, -2.0, 3.5], [0.0, 0.0, 0.0]])  # pairs (0,2), (1,3)
    got = np.asarray(bv._changed_features(codes, 1, 2))
    ref = np.zeros((2, 3))
    for p in range(2):
        d = np.abs(np.asarray(codes[p]) - np.asarray(codes[p + 2]))
        ref[p] = d / d.max() if d.max() > 0 else 0.0
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert got[0].max() == 1.0 and np.all(np.isfinite(got))


def test_a_disentangled_code_scores_one_and_an_entangled_one_less():
    good = bv.beta_vae_changed_score(KEY, lambda x: x * jnp.array([2.0, -1.0, 0.5, 3.0]), GRID,
                                     num_train=800, num_eval=400)
    assert good["eval_accuracy"] == 1.0
    # A linear mixing still scores 1: changing factor k moves z along |row k| whatever the start, and
    # the max-normalisation removes the step's size. This form of the metric cannot see it.
    mix = jnp.array([[1.0, 0.9, 0.0, 0.2], [0.8, 1.0, 0.3, 0.0], [0.0, 0.4, 1.0, 0.9], [0.3, 0.0, 0.7, 1.0]])
    linear = bv.beta_vae_changed_score(KEY, lambda x: x @ mix, GRID, num_train=800, num_eval=400)
    assert linear["eval_accuracy"] == 1.0
    # A nonlinear entangling, whose direction of change depends on where the pair starts, scores less.
    w = jax.random.normal(jax.random.PRNGKey(5), (4, 6))
    bad = bv.beta_vae_changed_score(KEY, lambda x: jnp.sin(x @ w), GRID, num_train=800, num_eval=400)
    assert bad["eval_accuracy"] < 0.95
    # A constant code: every feature is zero and the classifier can only guess the commonest factor.
    flat = bv.beta_vae_changed_score(KEY, lambda x: jnp.zeros((x.shape[0], 2)), GRID, num_train=800,
                                     num_eval=400)
    assert flat["eval_accuracy"] < 0.35
    # The suite runs it when named (not by default) under its own fixed key.
    out = suite.evaluate(KEY, lambda x: x, GRID, "beta_vae_changed", num_train=400, num_eval=200)
    assert out["beta_vae_changed"]["eval_accuracy"] == 1.0
    assert "beta_vae_changed" not in suite.DEFAULT_METRICS


def test_digits_fractions_are_stratified_fixed_subsets_of_the_training_split():
    from disentax.data.digits import Digits

    full = Digits("train")
    for name, fraction in (("digits_10pct", 0.1), ("digits_30pct", 0.3)):
        part = get_dataset(name)
        assert set(part.indices) < set(full.indices)
        for c in range(10):
            assert np.sum(part.np_labels == c) == max(1, round(fraction * np.sum(full.np_labels == c)))
        assert np.array_equal(part.indices, get_dataset(name).indices)
    with pytest.raises(ValueError, match=r"keep_fraction must be in \(0, 1\], got 0"):
        Digits("train", keep_fraction=0)
