import itertools
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods
from disentax.data.registry import get_dataset
from disentax.evaluation import information_placement as ev
from disentax.objectives import reconstruction_log_likelihood
from disentax.objectives.auxiliary import (
    auxiliary_vae,
    auxiliary_vae_clustering,
    image_to_patches,
    patches_to_image,
    shuffle_patches,
)
from disentax.runner import loop
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_metrics

from helpers import QUICK, configure, same_leaves


def _patches_np(img, p):
    h, w, _ = img.shape
    return [img[i:i + p, j:j + p] for i in range(0, h, p) for j in range(0, w, p)]


def test_patch_layout_matches_loops_and_round_trips():
    x = np.arange(2 * 8 * 12 * 3, dtype=np.float32).reshape(2, 8, 12, 3)
    p = np.asarray(image_to_patches(jnp.asarray(x), 4))
    assert p.shape == (2, 6, 4, 4, 3)
    for b in range(2):
        for got, want in zip(p[b], _patches_np(x[b], 4)):
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.asarray(patches_to_image(jnp.asarray(p), 8, 12)), x)


def test_shuffle_patches_is_a_permutation_of_patches():
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 16, 16, 3))
    key = jax.random.PRNGKey(7)
    y = np.asarray(shuffle_patches(key, x, 4))
    xs = np.asarray(x)
    for b in range(4):
        before = sorted(q.tobytes() for q in _patches_np(xs[b], 4))
        after = sorted(q.tobytes() for q in _patches_np(y[b], 4))
        assert before == after  # the same multiset of patches
        assert not np.array_equal(y[b], xs[b])  # 16 distinct patches: a non-identity permutation
    assert not np.array_equal(y[0], np.asarray(shuffle_patches(key, x[1:2], 4))[0])  # ... per image
    np.testing.assert_array_equal(y, np.asarray(shuffle_patches(key, x, 4)))  # deterministic per key
    assert not np.array_equal(y, np.asarray(shuffle_patches(jax.random.PRNGKey(8), x, 4)))
    # One patch covering the image: the identity. A single image [H, W, C] works too.
    np.testing.assert_array_equal(np.asarray(shuffle_patches(key, x, 16)), xs)
    one = np.asarray(shuffle_patches(key, x[0], 8))
    assert sorted(q.tobytes() for q in _patches_np(one, 8)) == sorted(q.tobytes() for q in _patches_np(xs[0], 8))
    with pytest.raises(ValueError, match="patch"):
        shuffle_patches(key, x, 5)


def _kl_np(mu, logvar, pm=0.0, plv=0.0):
    mu, logvar, pm, plv = (np.asarray(a, np.float64) for a in (mu, logvar, pm, plv))
    return 0.5 * np.sum(plv - logvar + (np.exp(logvar) + (mu - pm) ** 2) / np.exp(plv) - 1, axis=-1)


def _inputs(rng, k=0):
    x = rng.integers(0, 256, size=(3, 4, 4, 3)) / 255.0
    xt = rng.integers(0, 256, size=(3, 4, 4, 3)) / 255.0
    out = rng.normal(size=(3, 4, 4, 6)) * 0.3 + np.concatenate([np.full((3, 4, 4, 3), 0.5), np.zeros((3, 4, 4, 3))], -1) - np.concatenate([np.zeros((3, 4, 4, 3)), np.full((3, 4, 4, 3), 2.0)], -1)
    out_aux = rng.normal(size=(3, 4, 4, 6)) * 0.3
    mu_g, lv_g, mu_l, lv_l = (rng.normal(size=(3, d)) for d in (5, 5, 2, 2))
    return [jnp.asarray(a, jnp.float32) for a in (x, xt, out, out_aux, mu_g, lv_g, mu_l, lv_l)]


def test_auxiliary_objective_eq6():
    args = _inputs(np.random.default_rng(0))
    x, xt, out, out_aux, mu_g, lv_g, mu_l, lv_l = args
    rec = -np.asarray(reconstruction_log_likelihood(x, out, "logistic"), np.float64)
    rec_aux = -np.asarray(reconstruction_log_likelihood(xt, out_aux, "logistic"), np.float64)
    kl = _kl_np(mu_g, lv_g) + _kl_np(mu_l, lv_l)
    for beta in (0.0, 1.0, 40.0):
        loss, aux = auxiliary_vae(*args, beta=beta)
        np.testing.assert_allclose(float(loss), np.mean(rec + rec_aux + beta * kl), rtol=1e-5)
    np.testing.assert_allclose(float(aux["kl_global"]), _kl_np(mu_g, lv_g).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(aux["elbo"]), -np.mean(rec + rec_aux + kl), rtol=1e-5)
    # The auxiliary term depends only on x~ and its decoder: changing x leaves it unchanged.
    _, aux2 = auxiliary_vae(x * 0, xt, out, out_aux, mu_g, lv_g, mu_l, lv_l)
    assert float(aux2["aux_reconstruction"]) == float(aux["aux_reconstruction"])


def test_clustering_objective_eq11():
    rng = np.random.default_rng(1)
    args = _inputs(rng)
    x, xt, out, out_aux, mu_g, lv_g, mu_l, lv_l = args
    logits = jnp.asarray(rng.normal(size=(3, 7)) * 2, jnp.float32)
    pm, plv = (jnp.asarray(rng.normal(size=(3, 5)), jnp.float32) for _ in range(2))
    loss, aux = auxiliary_vae_clustering(*args, logits, pm, plv, beta=3.0)
    rec = -np.asarray(reconstruction_log_likelihood(x, out, "logistic"), np.float64)
    rec_aux = -np.asarray(reconstruction_log_likelihood(xt, out_aux, "logistic"), np.float64)
    q = np.exp(np.asarray(logits, np.float64))
    q /= q.sum(-1, keepdims=True)
    kl_y = np.sum(q * np.log(q * 7), -1)  # KL(q || uniform(7)) = log 7 - H(q)
    expected = rec + rec_aux + 3.0 * (_kl_np(mu_g, lv_g, pm, plv) + _kl_np(mu_l, lv_l)) + kl_y
    np.testing.assert_allclose(float(loss), expected.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(aux["kl_y"]), kl_y.mean(), rtol=1e-5)


def _brute_acc(clusters, labels):
    # Try every map cluster -> label (feasible for tiny cases) and keep the best.
    cs, ls = sorted(set(clusters)), sorted(set(labels))
    best = 0
    for assign in itertools.product(ls, repeat=len(cs)):
        m = dict(zip(cs, assign))
        best = max(best, sum(m[c] == l for c, l in zip(clusters, labels)))
    return best / len(labels)


def test_clustering_accuracy_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(5):
        clusters = rng.integers(0, 5, size=20)  # k = 5 clusters > 3 classes
        labels = rng.integers(0, 3, size=20)
        assert ev.clustering_accuracy(clusters, labels) == pytest.approx(_brute_acc(list(clusters), list(labels)))
    labels = np.repeat(np.arange(3), 4)
    assert ev.clustering_accuracy(np.arange(12), labels) == 1.0  # a refinement of the classes is perfect
    assert ev.clustering_accuracy(np.zeros(12), labels) == pytest.approx(1 / 3)


def _tiny(name, **kw):
    return configure(name, **{**QUICK, "batch_size": 8, "model.encoder": "mlp", "model.mlp_hidden": (32,),
                              "num_viz_images": 3, "hp.global_dim": 3, "hp.local_dim": 2, "hp.swap_examples": 60,
                              **kw})


def test_auxiliary_vae_trains_without_nan_and_evaluates(tmp_path):
    c = _tiny("auxiliary_vae_coloured_dsprites")
    result = loop.train(c, tmp_path, finish=True)
    assert all(np.isfinite(r["loss"]) for r in read_metrics(tmp_path))
    method, params = result["method"], result["state"].params
    model = method.model
    for png in ("reconstructions.png", "latent_grid.png"):
        assert (tmp_path / png).exists()
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert set(report["swap_test"]) == {"data", "reconstruction", "z_l_from_prior", "z_g_from_prior"}
    assert set(report["swap_test"]["data"]) == set(get_dataset("coloured_dsprites").factor_names)
    # The factorisation of the auxiliary-task VAE (Anonymous 2019): q(z_l | x~) never sees x, and
    # p(x | z_g, z_l) does see z_g.
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 32, 32, 3))
    xt = shuffle_patches(jax.random.PRNGKey(1), x, 4)
    grad_x = jax.jit(jax.grad(lambda x: model.apply({"params": params}, x, xt, jax.random.PRNGKey(2))["mu_l"].sum()))(x)
    assert np.all(np.asarray(grad_x) == 0)
    imgs = ev.swap_images(model, params, jax.random.PRNGKey(3), x, patch=4)
    assert not np.allclose(np.asarray(imgs["z_g_from_prior"]), np.asarray(imgs["reconstruction"]))
    assert not np.allclose(np.asarray(imgs["z_l_from_prior"]), np.asarray(imgs["reconstruction"]))
    grid = np.asarray(ev.latent_grid(model, params, jax.random.PRNGKey(4), n=3))
    assert grid.shape == (3, 3, 32, 32, 3)
    assert not np.allclose(grid[0, 0], grid[0, 1]) and not np.allclose(grid[0, 0], grid[1, 0])
    assert method.representation(params, x).shape == (2, 5)


def test_clustering_variant_trains_without_nan_and_resumes_exactly(tmp_path):
    c = _tiny("auxiliary_vae_clustering_coloured_dsprites")
    straight = loop.train(c, tmp_path, finish=False)
    records = read_metrics(tmp_path)
    assert all(np.isfinite(r["loss"]) for r in records) and len(records) == 4
    final = straight["state"]
    shutil.rmtree(tmp_path / "checkpoints" / "20")
    assert Checkpointer(tmp_path / "checkpoints").latest_step() == 10
    resumed = loop.train(c, tmp_path, finish=True)
    assert same_leaves(final.params, resumed["state"].params) and same_leaves(final.opt_state, resumed["state"].opt_state)
    assert [r["loss"] for r in read_metrics(tmp_path)] == [r["loss"] for r in records]
    assert (tmp_path / "clusters.png").exists()
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["clustering"]["factor"] == "shape" and 1 / 3 <= report["clustering"]["accuracy"] <= 1


def test_ridge_readout_dual_equals_primal_and_separates():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=30)
    feats = rng.normal(size=(30, 8)) * 0.1 + np.eye(8)[labels] * 3
    few = ev.RidgeReadout(0.5).fit(feats[:6], labels[:6])  # 6 < 8: dual solve
    xc = feats[:6] - feats[:6].mean(0)
    yc = (labels[:6, None] == few.classes_[None]).astype(float)
    yc -= yc.mean(0)
    np.testing.assert_allclose(few.coef_, np.linalg.solve(xc.T @ xc + 0.5 * np.eye(8), xc.T @ yc), atol=1e-8)
    assert np.mean(ev.RidgeReadout().fit(feats, labels).predict(feats) == labels) == 1.0


def test_bad_config_values_are_refused():
    c = cfg.load_config_file("auxiliary_vae_coloured_dsprites")
    c.auxiliary_vae.patch = 5
    with pytest.raises(cfg.ConfigError, match="config.auxiliary_vae.patch=5 must divide the image size 32x32"):
        methods.build(cfg.validate(c), get_dataset("coloured_dsprites"))
    c = cfg.load_config_file("auxiliary_vae_clustering_coloured_dsprites")
    c.auxiliary_vae_clustering.num_clusters = 1
    with pytest.raises(cfg.ConfigError, match="config.auxiliary_vae_clustering.num_clusters must be >= 2"):
        cfg.validate(c)
