import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax.evaluation import objects as ev
from disentax.models.mvae import MVAE, CandidateEncoder, ObjectDecoder, coordinate_channels
from disentax.objectives.multi_entity import candidate_kl, multi_entity_elbo, select_top_n
from disentax.runner import loop
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_metrics

from helpers import METHOD_TINY, QUICK, configure, same_leaves


def _kl_np(mu, logvar):
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return 0.5 * np.sum(np.exp(logvar) + mu**2 - 1 - logvar, axis=-1)


def test_top_n_picks_the_largest_kl_candidates_in_order():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5, 30, 4)).astype(np.float32) * rng.uniform(0, 3, size=(5, 30, 1)).astype(np.float32)
    logvar = rng.normal(size=(5, 30, 4)).astype(np.float32)
    mu_sel, logvar_sel, kl, index = select_top_n(jnp.asarray(mu), jnp.asarray(logvar), 6)
    kl_np = _kl_np(mu, logvar)
    expected = np.argsort(-kl_np, axis=1)[:, :6]
    np.testing.assert_array_equal(np.asarray(index), expected)
    np.testing.assert_allclose(np.asarray(kl), np.take_along_axis(kl_np, expected, 1), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(mu_sel), np.take_along_axis(mu, expected[..., None], 1))
    np.testing.assert_array_equal(np.asarray(logvar_sel), np.take_along_axis(logvar, expected[..., None], 1))
    np.testing.assert_allclose(np.asarray(candidate_kl(mu, logvar)), kl_np, rtol=1e-5)
    with pytest.raises(ValueError, match="number of objects"):
        select_top_n(jnp.asarray(mu), jnp.asarray(logvar), 31)


def test_gradients_reach_only_the_selected_candidates():
    rng = np.random.default_rng(1)
    mu = jnp.asarray(rng.normal(size=(3, 12, 2)), jnp.float32)
    logvar = jnp.asarray(rng.normal(size=(3, 12, 2)) * 0.5, jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 4, 2)), jnp.float32)

    def f(mu, logvar):
        m, lv, kl, _ = select_top_n(mu, logvar, 4)
        return jnp.sum(w * m) + jnp.sum(kl)

    g_mu, g_lv = jax.grad(f, argnums=(0, 1))(mu, logvar)
    index = np.asarray(select_top_n(mu, logvar, 4)[3])
    selected = np.zeros((3, 12), bool)
    np.put_along_axis(selected, index, True, axis=1)
    g_mu, g_lv = np.asarray(g_mu), np.asarray(g_lv)
    assert np.all(g_mu[~selected] == 0) and np.all(g_lv[~selected] == 0)
    # d/dmu [w . mu + KL] = w + mu ; d/dlogvar KL = (exp(logvar) - 1) / 2, at the selected cells.
    w_full = np.zeros((3, 12, 2), np.float32)
    np.put_along_axis(w_full, index[..., None], np.asarray(w), axis=1)
    np.testing.assert_allclose(g_mu[selected], (w_full + np.asarray(mu))[selected], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_lv[selected], 0.5 * (np.exp(np.asarray(logvar)) - 1)[selected], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["sum", "max"])
def test_decoder_is_invariant_to_permuting_object_latents(pooling):
    dec = ObjectDecoder(image_shape=(32, 32, 3), g_hidden=(16,), map_shape=(8, 8, 4), g_channels=(4,),
                        h_channels=(4,), pooling=pooling)
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 6))
    params = jax.jit(dec.init)(jax.random.PRNGKey(1), z)
    apply = jax.jit(dec.apply)
    out = np.asarray(apply(params, z))
    for perm in ([4, 3, 2, 1, 0], [1, 0, 3, 4, 2]):
        out_p = np.asarray(apply(params, z[:, jnp.asarray(perm)]))
        if pooling == "max":
            np.testing.assert_array_equal(out_p, out)
        else:
            np.testing.assert_allclose(out_p, out, rtol=1e-5, atol=1e-5)
    # ... but not to changing an object, nor (for sum) to dropping one.
    assert not np.allclose(np.asarray(apply(params, z.at[:, 2].set(z[:, 2] + 1.0))), out, atol=1e-4)
    if pooling == "sum":
        assert not np.allclose(np.asarray(apply(params, z[:, :4])), out, atol=1e-4)


def test_mvae_forward_kl_map_and_coordinates():
    xy = np.asarray(coordinate_channels(1, 3, 4))
    np.testing.assert_allclose(xy[0, :, :, 0], np.tile(np.linspace(-1, 1, 4), (3, 1)), atol=1e-6)
    np.testing.assert_allclose(xy[0, :, :, 1], np.tile(np.linspace(-1, 1, 3)[:, None], (1, 4)), atol=1e-6)
    enc = CandidateEncoder(object_dim=3, channels=(4, 4), pools=(2, 2), head_channels=4)
    dec = ObjectDecoder(image_shape=(16, 16, 3), g_hidden=(8,), map_shape=(4, 4, 2), g_channels=(2,), h_channels=(2,))
    model = MVAE(encoder=enc, decoder=dec, num_objects=3)
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 16, 16, 3))
    params = jax.jit(model.init)(jax.random.PRNGKey(1), x, jax.random.PRNGKey(2))["params"]
    o = jax.jit(model.apply)({"params": params}, x, jax.random.PRNGKey(3))
    assert o["cand_mu"].shape == (2, 16, 3) and o["out"].shape == (2, 16, 16, 3)
    kl_np = _kl_np(o["cand_mu"], o["cand_logvar"])
    np.testing.assert_allclose(np.asarray(o["kl_map"]), kl_np, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(o["index"]), np.argsort(-kl_np, 1)[:, :3])
    assert ev.grid_shape(model, x.shape[1:]) == (4, 4)
    assert ev.kl_maps(model, params, x).shape == (2, 4, 4)
    seq = ev.sequential_decoding(model, params, x)
    assert seq.shape == (2, 3, 16, 16, 3)
    np.testing.assert_allclose(np.asarray(seq[:, -1]), np.asarray(ev.decode_objects(model, params, o["mu"])), atol=1e-6)
    # Exchanging every slot between a scene and itself reversed swaps the reconstructions.
    ra, rb, sa, sb = ev.entity_exchange(model, params, x, x[::-1], slot=0)
    np.testing.assert_allclose(np.asarray(ra), np.asarray(rb)[::-1], atol=1e-6)
    assert not np.allclose(np.asarray(sa), np.asarray(ra), atol=1e-5)
    trav = ev.object_traversals(model, params, x[0], slot=1, dims=[0, 2], values=[-1.0, 0.0, 1.0])
    assert trav.shape == (2, 3, 16, 16, 3)


def test_multi_entity_elbo_matches_numpy():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(3, 4, 4, 3)).astype(np.float32)
    logits = rng.normal(size=(3, 4, 4, 3)).astype(np.float32) * 3
    mu = rng.normal(size=(3, 5, 2)).astype(np.float32)
    logvar = rng.normal(size=(3, 5, 2)).astype(np.float32)
    loss, aux = multi_entity_elbo(jnp.asarray(x), jnp.asarray(logits), jnp.asarray(mu), jnp.asarray(logvar), beta=2.0)
    l64 = logits.astype(np.float64)
    rec = -(x * -np.log1p(np.exp(-l64)) + (1 - x) * -np.log1p(np.exp(l64))).reshape(3, -1).sum(1)
    kl = _kl_np(mu, logvar).sum(-1)
    np.testing.assert_allclose(float(loss), np.mean(rec + 2 * kl), rtol=1e-5)
    np.testing.assert_allclose(float(aux["elbo"]), -np.mean(rec + kl), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(aux["kl_per_object"]), _kl_np(mu, logvar).mean(0), rtol=1e-5)


def _brute_force_threshold_accuracy(kl, counts):
    vals = np.unique(kl)
    cands = np.concatenate([vals, (vals[1:] + vals[:-1]) / 2, [vals[0] - 1, vals[-1] + 1]])
    return max(np.mean((kl > t).sum(1) == counts) for t in cands)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_count_threshold_search_is_optimal(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=40)
    # KL maps with `count` clearly-high cells plus noise, and integer values to create ties.
    kl = rng.integers(0, 6, size=(40, 9)).astype(np.float64)
    for i, c in enumerate(counts):
        kl[i, rng.choice(9, c, replace=False)] += rng.integers(3, 8)
    threshold, acc = ev.choose_count_threshold(kl, counts)
    assert acc == pytest.approx(_brute_force_threshold_accuracy(kl, counts))
    assert ev.counting_accuracy(kl, counts, threshold) == pytest.approx(acc)
    # A perfectly separable case is solved exactly.
    sep = np.where(np.arange(9)[None, :] < counts[:, None], 5.0, 0.1)
    t, a = ev.choose_count_threshold(sep, counts)
    assert a == 1.0 and 0.1 <= t < 5.0


def _tiny(name, **kw):
    method = cfg.load_config_file(name).method
    return configure(name, **{**QUICK, "batch_size": 8, **METHOD_TINY[method], "hp.lr_decay_steps": 20,
                              "num_viz_images": 2, **kw})


def test_mvae_trains_without_nan_and_resumes_exactly(tmp_path):
    c = _tiny("mvae_multi_dsprites")
    straight = loop.train(c, tmp_path, finish=True)
    records = read_metrics(tmp_path)
    assert all(np.isfinite(r["loss"]) for r in records) and len(records) == 4
    for png in ("kl_maps.png", "entity_exchange.png", "sequential_decoding.png", "object_traversals.png"):
        assert (tmp_path / png).exists()
    # Resume from step 10 after losing the last checkpoint: the same 20-step trajectory, also
    # through the annealed learning rate (its step count lives in the optimiser state).
    final = straight["state"]
    shutil.rmtree(tmp_path / "checkpoints" / "20")
    assert Checkpointer(tmp_path / "checkpoints").latest_step() == 10
    resumed = loop.train(c, tmp_path, finish=False)
    assert same_leaves(final.params, resumed["state"].params) and same_leaves(final.opt_state, resumed["state"].opt_state)
    assert [r["loss"] for r in read_metrics(tmp_path)] == [r["loss"] for r in records]
    codes = straight["method"].representation(final.params, jnp.zeros((2, 64, 64, 3)))
    assert codes.shape == (2, 60)
    # The end-of-training evaluation: counting objects from the KL map (Sec. 4.3), on fresh scenes.
    report = json.loads((tmp_path / "evaluation.json").read_text())["counting"]
    assert report["n_train"] == 64 and report["n_test"] == 64 and 0 <= report["test_accuracy"] <= 1


def test_matched_vae_baseline_trains_without_nan(tmp_path):
    # Its step is the foundation's VAE step (resume tested there) with the MVAE's optimiser.
    c = _tiny("vae_multi_dsprites")
    result = loop.train(c, tmp_path, finish=False)
    assert all(np.isfinite(r["loss"]) for r in read_metrics(tmp_path))
    assert result["state"].params["encoder"]["Dense_0"]["kernel"].shape[-1] == 2 * 60
    assert result["method"].representation(result["state"].params, jnp.zeros((2, 64, 64, 3))).shape == (2, 60)


def test_bad_config_values_are_refused():
    c = cfg.load_config_file("mvae_multi_dsprites")
    c.mvae.pooling = "mean"
    with pytest.raises(cfg.ConfigError, match="config.mvae.pooling must be one of sum, max"):
        cfg.validate(c)
    c = cfg.load_config_file("mvae_multi_dsprites")
    c.model.likelihood = "logistic"
    with pytest.raises(cfg.ConfigError, match="likelihood"):
        cfg.validate(c)
