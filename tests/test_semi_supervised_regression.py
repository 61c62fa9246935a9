"""Continuous partially-supervised latents of the semi-supervised VAE: the objective's value and
gradients against float64 numpy, the sampler's standardised targets, the model, training/resume,
and that nothing changes without regressed latents."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax.data import DSprites
from disentax.data import dsprites as dsprites_mod
from disentax.data.labelled import labelled_indices, semi_supervised_sampler, standardised_levels
from disentax.evaluation.weak_supervision import regression_errors
from disentax.methods import build
from disentax.objectives import semi_supervised as ss
from disentax.runner import loop
from disentax.train.logging import read_metrics

from helpers import QUICK, TINY_MODEL, configure, same_leaves, train_until_interrupted

B, K, D, R, P = 6, 3, 2, 2, 5
# log-variances of q(c|x) from very sharp to very broad (e^±30), and ordinary ones.
C_LOGVAR = np.array([[-30.0, 30.0], [-8.0, 0.0], [0.3, -1.2], [12.0, -20.0], [0.0, 0.0], [-2.0, 5.0]])


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": (rng.uniform(size=(B, P, 1, 1)) > 0.5).astype(np.float64),
        "out": rng.normal(size=(B, P, 1, 1)) * 2,
        "mu": rng.normal(size=(B, D)), "logvar": rng.normal(size=(B, D)) * 0.5,
        "y_logits": rng.normal(size=(B, K)) * 2, "labels": rng.integers(0, K, size=B),
        "c_mu": rng.normal(size=(B, R)), "c_logvar": C_LOGVAR.copy(), "c_target": rng.normal(size=(B, R)),
    }


def _sig(t):
    return 1 / (1 + np.exp(-t))


def _reference(v, alpha, supervised):
    """Loss and its gradients w.r.t. every input, example by example in float64 (closed forms)."""
    g = {k: np.zeros_like(v[k], np.float64) for k in ("out", "mu", "logvar", "y_logits", "c_mu", "c_logvar")}
    total = 0.0
    for i in range(B):
        x, d = v["x"][i].ravel(), v["out"][i].ravel()
        log_px = np.sum(x * np.log(_sig(d)) + (1 - x) * np.log(_sig(-d)))
        mu, lv = v["mu"][i], v["logvar"][i]
        kl_z = 0.5 * np.sum(np.exp(lv) + mu**2 - 1 - lv)
        m, s, t = v["c_mu"][i], v["c_logvar"][i], v["c_target"][i]
        logits = v["y_logits"][i]
        log_q = logits - np.log(np.sum(np.exp(logits - logits.max()))) - logits.max()
        if supervised:
            y = v["labels"][i]
            lq, q = log_q[y], np.exp(log_q[y])
            log_pc = np.sum(-0.5 * (math.log(2 * math.pi) + t**2))
            log_qc = np.sum(-0.5 * (math.log(2 * math.pi) + s + (t - m) ** 2 * np.exp(-s)))
            L = log_px - kl_z + log_pc
            total += q * (L - math.log(K) - lq) + alpha * lq + alpha * log_qc
            g["out"][i] = (q * (x - _sig(d))).reshape(P, 1, 1)
            g["mu"][i], g["logvar"][i] = -q * mu, -q * 0.5 * (np.exp(lv) - 1)
            g["y_logits"][i] = (q * (L - math.log(K) - lq - 1) + alpha) * (np.eye(K)[y] - np.exp(log_q))
            g["c_mu"][i] = alpha * (t - m) * np.exp(-s)
            g["c_logvar"][i] = alpha * 0.5 * ((t - m) ** 2 * np.exp(-s) - 1)
        else:  # plug-in y: closed-form KLs of y (to uniform) and of c (to N(0, 1))
            p = np.exp(log_q)
            kl_y = np.sum(p * (log_q + math.log(K)))
            kl_c = 0.5 * np.sum(np.exp(s) + m**2 - 1 - s)
            total += log_px - kl_z - kl_y - kl_c
            g["out"][i] = (x - _sig(d)).reshape(P, 1, 1)
            g["mu"][i], g["logvar"][i] = -mu, -0.5 * (np.exp(lv) - 1)
            dkl_dp = log_q + math.log(K) + 1
            g["y_logits"][i] = -p * (dkl_dp - np.sum(p * dkl_dp))
            g["c_mu"][i], g["c_logvar"][i] = -m, -0.5 * (np.exp(s) - 1)
    return -total / B, {k: -a / B for k, a in g.items()}


@jax.jit  # one compilation per dtype: alpha, the flag and the labels are traced
def _value_and_grad(t, x, labels, c_target, alpha, supervised):
    def loss(t):
        return ss.semi_supervised_vae(x, t["out"], t["mu"], t["logvar"], t["y_logits"], labels, supervised,
                                      alpha=alpha, c_mu=t["c_mu"], c_logvar=t["c_logvar"], c_target=c_target)

    return jax.value_and_grad(loss, has_aux=True)(t)


def _jax_loss(v, alpha, supervised):
    def run(t):
        dtype = t["out"].dtype
        labels = jnp.asarray(v["labels"] if supervised else np.full(B, -1), jnp.int32)
        return _value_and_grad(t, jnp.asarray(v["x"], dtype), labels, jnp.asarray(v["c_target"], dtype),
                               jnp.asarray(alpha, dtype), jnp.asarray(supervised))

    return run


@pytest.mark.parametrize("supervised", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 3.0])
def test_regression_objective_value_and_gradients_match_float64_reference(supervised, alpha):
    v = _inputs(1)
    keys = ("out", "mu", "logvar", "y_logits", "c_mu", "c_logvar")
    ref_loss, ref_grad = _reference(v, alpha, supervised)
    with jax.enable_x64(True):
        (loss, aux), grad = _jax_loss(v, alpha, supervised)({k: jnp.asarray(v[k]) for k in keys})
        np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-10)
        for k in keys:
            np.testing.assert_allclose(np.asarray(grad[k]), ref_grad[k], rtol=1e-9, atol=1e-12, err_msg=k)
    assert float(aux["supervised"]) == float(supervised)
    # float32 at the same extreme log-variances: finite, and still the reference to float32 accuracy.
    (loss32, _), grad32 = _jax_loss(v, alpha, supervised)({k: jnp.asarray(v[k], jnp.float32) for k in keys})
    np.testing.assert_allclose(float(loss32), ref_loss, rtol=1e-5)
    for k in keys:
        assert np.isfinite(np.asarray(grad32[k])).all(), k
        np.testing.assert_allclose(np.asarray(grad32[k]), ref_grad[k], rtol=2e-4, atol=1e-5, err_msg=k)


def test_without_regressed_latents_the_objective_is_unchanged_and_partial_inputs_are_refused():
    v = _inputs(2)
    args = [jnp.asarray(v[k], jnp.float32) for k in ("x", "out", "mu", "logvar", "y_logits")]
    for flag in (True, False):
        labels = jnp.asarray(v["labels"]) if flag else jnp.full((B,), -1)
        base, aux = ss.semi_supervised_vae(*args, labels, jnp.asarray(flag), alpha=2.0)
        sup = ss.supervised_objective(*args, jnp.asarray(v["labels"]), alpha=2.0)[0]
        uns = ss.unsupervised_objective(*args)[0]
        assert float(base) == float(sup if flag else uns)
        assert not {"kl_c", "log_qc", "regression_rmse"} & set(aux)
    with pytest.raises(ValueError, match="c_mu, c_logvar and c_target"):
        ss.semi_supervised_vae(*args, jnp.asarray(v["labels"]), True, c_mu=jnp.zeros((B, R)))


def test_standardised_levels_equal_standardised_real_values_of_dsprites():
    ds = DSprites()
    for column, values in ((1, dsprites_mod.SCALE_VALUES), (2, dsprites_mod.ORIENTATION_VALUES),
                           (3, dsprites_mod.POSITION_VALUES)):
        v = np.asarray(values, np.float64)
        want = (v - v.mean()) / v.std()  # population moments: each level equally likely in the grid
        got = standardised_levels(np.arange(ds.factor_sizes[column])[:, None], [ds.factor_sizes[column]])[:, 0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    levels = jnp.asarray([[0, 31], [5, 16], [3, 0]])
    np.testing.assert_array_equal(np.asarray(standardised_levels(levels, [6, 32])),
                                  standardised_levels(np.asarray(levels), [6, 32]))


class _HostDSprites(DSprites):
    """The procedural dSprites, flagged as read on the host: exercises the eager sampler path."""

    on_host = True


def test_sampler_targets_are_the_standardised_levels_and_the_host_path_draws_the_same():
    ds = DSprites()
    lab = labelled_indices(ds, "shape", 4, seed=0)
    sample = semi_supervised_sampler(0, lab, 0.5, regression=(3, 1))
    jitted = jax.jit(lambda k: sample(ds, k, 8))
    kinds = set()
    for k in jax.random.split(jax.random.PRNGKey(3), 6):
        b = jitted(k)
        hb = sample(_HostDSprites(), k, 8)
        assert set(b) == set(hb) == {"x", "labels", "supervised", "targets"}
        for key in b:
            np.testing.assert_array_equal(np.asarray(b[key]), np.asarray(hb[key]), err_msg=key)
        kinds.add(bool(b["supervised"]))
        if bool(b["supervised"]):
            # Recover each image's factors by rendering the labelled candidates.
            factors = ds.index_to_factors(lab)
            imgs = np.asarray(ds.images_from_indices(jnp.asarray(lab))).reshape(lab.size, -1)
            for x, t, y in zip(np.asarray(b["x"]).reshape(8, -1), np.asarray(b["targets"]), np.asarray(b["labels"])):
                f = factors[np.flatnonzero((imgs == x).all(1))[0]]
                np.testing.assert_allclose(t, [(f[3] - 15.5) / math.sqrt((32**2 - 1) / 12),
                                               (f[1] - 2.5) / math.sqrt((6**2 - 1) / 12)], rtol=1e-6)
                assert y == f[0]
        else:
            assert (np.asarray(b["targets"]) == 0).all() and (np.asarray(b["labels"]) == -1).all()
    assert kinds == {True, False}
    plain = semi_supervised_sampler(0, lab, 0.5)(ds, jax.random.PRNGKey(0), 4)
    assert set(plain) == {"x", "labels", "supervised"}


def test_regression_errors_rmse_and_cosine_distance():
    rng = np.random.default_rng(0)
    t = standardised_levels(np.stack([rng.integers(0, 32, 50), rng.integers(0, 40, 50)], 1), [32, 40]).astype(np.float64)
    p = t + rng.normal(size=t.shape) * 0.1
    err = regression_errors(p, t, [32, 40], [False, True])
    np.testing.assert_allclose(err[0], np.sqrt(np.mean((p[:, 0] - t[:, 0]) ** 2)), rtol=1e-12)
    scale = math.sqrt((40**2 - 1) / 12)
    ang = lambda s: 2 * np.pi * (s * scale + 19.5) / 40  # noqa: E731
    np.testing.assert_allclose(err[1], np.mean(1 - np.cos(ang(p[:, 1]) - ang(t[:, 1]))), rtol=1e-12)
    # Levels 0 and 39 of 40 are neighbours on the circle: small cosine distance, large RMSE.
    ends = standardised_levels(np.array([[0], [39]]), [40])
    near = regression_errors(ends[:1], ends[1:], [40], [True])[0]
    np.testing.assert_allclose(near, 1 - math.cos(2 * math.pi / 40), rtol=1e-5)  # float32 targets
    assert regression_errors(ends[:1], ends[1:], [40], [False])[0] > 3.0


def small_config(**overrides):
    return configure("semi_supervised_dsprites_regression", **{
        **QUICK, "num_steps": 50, "log_every": 10, "checkpoint_every": 25, **TINY_MODEL, "num_viz_images": 3,
        "hp.labels_per_class": 3, "hp.supervision_rate": 0.5, **overrides})


def test_regressed_latent_gets_no_gradient_from_the_density_weight():
    # On a labelled batch the given value is fed downstream and q(c|x) is scored only by
    # α·log q(c_i|x_i): with α = 0 the regression head's gradient is exactly zero, so one Adam
    # step leaves it exactly where it was while the other heads move.
    c = small_config(**{"hp.alpha": 0.0, "hp.supervision_rate": 1.0})
    method = build(c, DSprites())
    batch = jax.jit(lambda k: method.sample_batch(k, 16))(jax.random.PRNGKey(0))
    assert bool(batch["supervised"])
    state = jax.jit(method.init_state)(jax.random.PRNGKey(1), batch)
    assert set(state.params) == {"trunk", "classifier", "style_head", "regressor", "decoder"}
    new, _ = jax.jit(method.train_step)(state, batch, jax.random.PRNGKey(2))
    assert same_leaves(new.params["regressor"], state.params["regressor"])
    assert not same_leaves(new.params["style_head"], state.params["style_head"])


def test_regression_trains_50_steps_without_nan_resumes_exactly_and_draws_the_traversal(tmp_path, monkeypatch):
    c = small_config()
    straight = loop.train(c, tmp_path / "straight", finish=True)
    records = read_metrics(tmp_path / "straight")
    assert straight["step"] == 50 and all(np.isfinite(r["loss"]) for r in records)
    assert {"kl_c", "log_qc", "regression_rmse"} <= set(records[-1])
    assert (tmp_path / "straight" / "regression_traversal.png").stat().st_size > 0
    train_until_interrupted(c, tmp_path / "resumed", 30, monkeypatch)
    resumed = loop.train(c, tmp_path / "resumed", finish=False)
    assert same_leaves(straight["state"].params, resumed["state"].params)
    assert same_leaves(straight["state"].opt_state, resumed["state"].opt_state)
    rep = straight["method"].representation(straight["state"].params, DSprites().sample(jax.random.PRNGKey(0), 5)[0])
    assert rep.shape == (5, 3 + 1 + 4)  # [ρ over shapes, mean of q(pos_x|x), μ_z]


def test_empty_regression_factors_build_the_model_and_batches_of_before():
    """With no regressed latents (the default) the model, batches and metrics are those of the
    class-conditional model alone: no regression head, no targets, no regression terms."""
    from disentax.data.digits import Digits

    ds = Digits("train")
    c = configure("semi_supervised_digits", **{"model.mlp_hidden": (32,), "model.latent_dim": 4})
    assert c.semi_supervised.regression_factors == ()
    method = build(c, ds)
    sample = jax.jit(lambda k: method.sample_batch(k, 16))
    batch = sample(jax.random.PRNGKey(0))
    state = jax.jit(method.init_state)(jax.random.PRNGKey(1), batch)
    step_fn = jax.jit(method.train_step)
    for step in range(2):
        state, metrics = step_fn(state, sample(jax.random.PRNGKey(step)), jax.random.PRNGKey(10 + step))
    assert set(batch) == {"x", "labels", "supervised"}
    assert set(state.params) == {"trunk", "classifier", "style_head", "decoder"}
    assert not {"kl_c", "log_qc", "regression_rmse"} & set(metrics)
    assert set(method.codes) == {"all", "z"}


def test_bad_regression_factors_are_one_line_errors(tmp_path):
    ds = DSprites()
    for factors, msg in (((("colour",)), "allowed: shape, scale, orientation, pos_x, pos_y"),
                         (("shape",), "is the label factor; allowed: scale, orientation, pos_x, pos_y"),
                         (("pos_x", "pos_x"), "listed twice")):
        with pytest.raises(cfg.ConfigError, match=msg):
            build(small_config(**{"hp.regression_factors": factors}), ds)
    from disentax.data.digits import Digits

    c = cfg.load_config_file("semi_supervised_digits")
    c.semi_supervised.regression_factors = ("label",)
    with pytest.raises(cfg.ConfigError, match="need a dataset with a factor grid"):
        build(c, Digits("train"))
    # A string where a tuple belongs, in a config file: one line naming the file and the key.
    (tmp_path / "bad.py").write_text("from disentax.config import base_config\n\ndef get_config():\n"
                                     "    c = base_config('semi_supervised')\n"
                                     "    c.semi_supervised.regression_factors = 'pos_x'\n    return c\n")
    with pytest.raises(cfg.ConfigError, match="regression_factors") as info:
        cfg.get(str(tmp_path / "bad.py"))
    assert "\n" not in str(info.value)
