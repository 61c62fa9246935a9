import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import objectives
from disentax.data import DSprites
from disentax.data.digits import Digits
from disentax.data.groups import (
    chunk_by_label,
    group_batch_sampler,
    group_counts,
    random_segment_ids,
    segment_ids_from_sizes,
)
from disentax.evaluation.weak_supervision import content_style_accuracy
from disentax.objectives.grouped import ml_vae, product_of_gaussians
from disentax.runner import loop
from disentax.train.logging import read_metrics

from helpers import QUICK, configure, same_leaves, train_until_interrupted


def _pog_reference(mu, logvar):
    """Closed form (Bouchacourt et al. 2018, Eq. 7) in float64: precisions add, mean
    precision-weighted."""
    prec = np.exp(-np.asarray(logvar, np.float64))
    total = prec.sum(0)
    return (prec * np.asarray(mu, np.float64)).sum(0) / total, -np.log(total)


@pytest.mark.parametrize("members", [1, 2, 50])
def test_product_of_gaussians_matches_closed_form(members):
    rng = np.random.default_rng(members)
    mu = rng.normal(size=(members, 6)).astype(np.float32) * 3
    logvar = rng.uniform(-4, 3, size=(members, 6)).astype(np.float32)
    got_mu, got_lv = product_of_gaussians(jnp.asarray(mu), jnp.asarray(logvar), jnp.zeros(members, jnp.int32), 1)
    ref_mu, ref_lv = _pog_reference(mu, logvar)
    np.testing.assert_allclose(np.asarray(got_mu)[0], ref_mu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got_lv)[0], ref_lv, rtol=1e-5, atol=1e-5)
    if members == 1:  # a single member is its own posterior
        np.testing.assert_allclose(np.asarray(got_mu)[0], mu[0], rtol=1e-6)
        np.testing.assert_allclose(np.asarray(got_lv)[0], logvar[0], rtol=1e-6)
    if members == 2:  # 1/σ² = 1/σ1² + 1/σ2²
        np.testing.assert_allclose(np.exp(-np.asarray(got_lv)[0]), np.exp(-logvar[0]) + np.exp(-logvar[1]), rtol=1e-5)


def test_product_of_gaussians_extreme_precisions_stay_finite():
    # A near-certain member dominates; huge and tiny variances neither overflow nor underflow.
    mu = jnp.asarray([[1.0, -2.0], [5.0, 3.0], [-7.0, 0.5]])
    logvar = jnp.asarray([[-80.0, 90.0], [0.0, 88.0], [60.0, 95.0]])
    got_mu, got_lv = product_of_gaussians(mu, logvar, jnp.zeros(3, jnp.int32), 1)
    ref_mu, ref_lv = _pog_reference(mu, logvar)
    np.testing.assert_allclose(np.asarray(got_mu)[0], ref_mu, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(got_lv)[0], ref_lv, rtol=1e-5)
    g = jax.grad(lambda m, l: product_of_gaussians(m, l, jnp.zeros(3, jnp.int32), 1)[0].sum())(mu, logvar)
    assert np.isfinite(np.asarray(g)).all()


def test_segment_accumulation_equals_per_group_loop_for_ragged_groups():
    rng = np.random.default_rng(0)
    sizes = [1, 4, 2, 7, 1, 3]
    seg = segment_ids_from_sizes(sizes)
    perm = rng.permutation(seg.size)  # segment ids need not be sorted
    seg = seg[perm]
    mu = rng.normal(size=(seg.size, 5)).astype(np.float32)
    logvar = rng.normal(size=(seg.size, 5)).astype(np.float32)
    got_mu, got_lv = product_of_gaussians(jnp.asarray(mu), jnp.asarray(logvar), jnp.asarray(seg), len(sizes) + 1)
    for g in range(len(sizes)):
        ref_mu, ref_lv = _pog_reference(mu[seg == g], logvar[seg == g])
        np.testing.assert_allclose(np.asarray(got_mu)[g], ref_mu, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(got_lv)[g], ref_lv, rtol=1e-5, atol=1e-6)
    # The extra, empty segment gets the prior.
    np.testing.assert_array_equal(np.asarray(got_mu)[-1], 0.0)
    np.testing.assert_array_equal(np.asarray(got_lv)[-1], 0.0)
    np.testing.assert_array_equal(np.asarray(group_counts(jnp.asarray(seg), 7)), sizes + [0])


def _fake_outputs(rng, b, d_s, d_c):
    x = (rng.uniform(size=(b, 4, 4, 1)) > 0.5).astype(np.float32)
    out = rng.normal(size=(b, 4, 4, 1)).astype(np.float32)
    mu_s, lv_s = rng.normal(size=(b, d_s)).astype(np.float32), rng.normal(size=(b, d_s)).astype(np.float32) * 0.5
    mu_c, lv_c = rng.normal(size=(b, d_c)).astype(np.float32), rng.normal(size=(b, d_c)).astype(np.float32) * 0.5
    return x, out, mu_s, lv_s, mu_c, lv_c


def test_group_elbo_with_singleton_groups_is_the_per_observation_elbo():
    rng = np.random.default_rng(1)
    x, out, mu_s, lv_s, mu_c, lv_c = _fake_outputs(rng, 9, 3, 2)
    loss, aux = ml_vae(x, out, mu_s, lv_s, mu_c, lv_c, jnp.arange(9), 9)
    ref, _ = objectives.elbo(x, out, np.concatenate([mu_c, mu_s], 1), np.concatenate([lv_c, lv_s], 1))
    np.testing.assert_allclose(float(loss), float(ref), rtol=1e-6)
    np.testing.assert_allclose(float(aux["group_size"]), 1.0)


def _kl64(mu, lv):
    mu, lv = np.asarray(mu, np.float64), np.asarray(lv, np.float64)
    return 0.5 * np.sum(np.exp(lv) + mu**2 - 1 - lv, -1)


def test_group_elbo_counts_the_content_kl_once_per_group():
    rng = np.random.default_rng(2)
    sizes = [3, 1, 5, 2]
    seg = segment_ids_from_sizes(sizes)
    x, out, mu_s, lv_s, mu_c, lv_c = _fake_outputs(rng, seg.size, 3, 2)
    loss, aux = ml_vae(x, out, mu_s, lv_s, mu_c, lv_c, jnp.asarray(seg), len(sizes))
    xd, od = x.astype(np.float64), out.astype(np.float64)
    log_px = (xd * -np.logaddexp(0, -od) + (1 - xd) * -np.logaddexp(0, od)).reshape(seg.size, -1).sum(1)
    group_elbos, kl_c_all = [], []
    for g in range(len(sizes)):
        m = seg == g
        gm, gl = _pog_reference(mu_c[m], lv_c[m])
        kl_c = _kl64(gm, gl)
        kl_c_all.append(kl_c)
        group_elbos.append(np.sum(log_px[m] - _kl64(mu_s[m], lv_s[m])) - kl_c)  # one content KL per group
    np.testing.assert_allclose(float(loss), -np.mean(group_elbos), rtol=1e-5)
    np.testing.assert_allclose(float(aux["kl_content"]), np.mean(kl_c_all), rtol=1e-5)
    # Counting the content KL once per observation instead would differ by Σ (|G| − 1)·KL_G / |𝒢|.
    wrong = -np.mean(group_elbos) + np.sum((np.asarray(sizes) - 1) * np.asarray(kl_c_all)) / len(sizes)
    assert abs(float(loss) - wrong) > 1e-2


def test_random_ragged_segments_are_compositions_into_nonempty_groups():
    seg = np.asarray(jax.vmap(lambda k: random_segment_ids(k, 20, 6))(jax.random.split(jax.random.PRNGKey(0), 200)))
    assert (np.diff(seg, axis=1) >= 0).all() and (seg[:, 0] == 0).all() and (seg[:, -1] == 5).all()
    counts = np.stack([np.bincount(s, minlength=6) for s in seg])
    assert (counts >= 1).all() and (counts.sum(1) == 20).all()
    assert len({tuple(c) for c in counts}) > 100  # sizes really vary


def test_group_samplers_share_the_grouping_factor_and_vary_the_rest():
    ds = DSprites()
    batch = jax.jit(lambda k: group_batch_sampler("scale", 4)(ds, k, 16))(jax.random.PRNGKey(0))
    f, seg = np.asarray(batch["factors"]), np.asarray(batch["segment_ids"])
    np.testing.assert_array_equal(seg, np.repeat(np.arange(4), 4))
    for g in range(4):
        assert len(set(f[seg == g, 1])) == 1 and f[seg == g, 1][0] == np.asarray(batch["group_values"])[g]
    assert len(set(f[:, 3])) > 4  # pos_x varies within and across groups
    np.testing.assert_array_equal(np.asarray(batch["x"]), np.asarray(ds.render(jnp.asarray(f))))
    digits = Digits("train")
    b = jax.jit(lambda k: group_batch_sampler("label", 5, ragged=True)(digits, k, 30))(jax.random.PRNGKey(1))
    seg, lab = np.asarray(b["segment_ids"]), np.asarray(b["factors"])[:, 0]
    assert seg.max() == 5 and np.bincount(seg).min() >= 1
    for g in range(6):
        assert (lab[seg == g] == np.asarray(b["group_values"])[g]).all()


def test_chunk_by_label_cuts_each_class_into_groups_of_k():
    labels = np.array([0] * 7 + [1] * 3 + [2] * 4)
    seg, g = chunk_by_label(labels, 3, np.random.default_rng(0))
    assert g == 3 + 1 + 2
    for s in range(g):
        members = labels[seg == s]
        assert 1 <= members.size <= 3 and len(set(members)) == 1


def test_fig7_protocol_content_beats_style_and_improves_with_k():
    # Synthetic codes: content = class centre + noise that k images average away; style = noise.
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 4)) * 3.0
    y_tr, y_te = np.repeat(np.arange(10), 60), np.repeat(np.arange(10), 40)
    x_tr = np.concatenate([centres[y_tr], rng.normal(size=(600, 4)) * 1.5], 1).astype(np.float32)
    x_te = np.concatenate([centres[y_te], rng.normal(size=(400, 4)) * 1.5], 1).astype(np.float32)
    noise = lambda x: x[:, :4] + np.asarray(jax.random.normal(jax.random.PRNGKey(int(x.shape[0])), (x.shape[0], 4))) * 3.0
    content = lambda x: (jnp.asarray(noise(np.asarray(x))), jnp.zeros((x.shape[0], 4)))
    style = lambda x: (jnp.asarray(x)[:, 4:], jnp.zeros((x.shape[0], 4)))
    rows = content_style_accuracy({"content": content, "style": style}, x_tr, y_tr, x_te, y_te, ks=(1, 10), train_k=10)
    acc = {(r["code"], r["k"]): r["accuracy"] for r in rows}
    assert acc[("content", 10)] > acc[("content", 1)] + 0.2
    assert acc[("content", 10)] > 0.75
    assert acc[("style", 1)] < 0.25 and acc[("style", 10)] == acc[("style", 1)]


def small_config(**overrides):
    return configure("ml_vae_digits", **{**QUICK, "num_steps": 30, "model.mlp_hidden": (32,), "num_viz_images": 4,
                                         "hp.group_size": 4, "hp.style_dim": 3, "hp.content_dim": 3, **overrides})


def test_ml_vae_trains_without_nan_and_resumes_exactly(tmp_path, monkeypatch):
    c = small_config(**{"hp.ragged_groups": True})
    straight = loop.train(c, tmp_path / "straight", finish=True)
    records = read_metrics(tmp_path / "straight")
    assert all(np.isfinite(r["loss"]) for r in records)
    assert records[-1]["loss"] < records[0]["loss"]
    for name in ("swapping.png", "interpolation.png", "generation.png", "accumulation.png"):
        assert (tmp_path / "straight" / name).exists()

    train_until_interrupted(c, tmp_path / "resumed", 15, monkeypatch)
    resumed = loop.train(c, tmp_path / "resumed", finish=False)
    assert same_leaves(straight["state"].params, resumed["state"].params)
    assert same_leaves(straight["state"].opt_state, resumed["state"].opt_state)


def test_ml_vae_config_errors_are_one_line():
    c = cfg.load_config_file("ml_vae_digits")
    c.ml_vae.group_size = 7
    with pytest.raises(cfg.ConfigError, match="config.ml_vae.group_size must be a divisor"):
        cfg.validate(c)
    c.ml_vae.group_size, c.ml_vae.style_dim = 10, 0
    with pytest.raises(cfg.ConfigError, match="config.ml_vae.style_dim must be >= 1"):
        cfg.validate(c)
