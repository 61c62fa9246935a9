import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import distributions as dist
from disentax.data import DSprites
from disentax.data.digits import Digits
from disentax.data.labelled import labelled_indices, semi_supervised_sampler
from disentax.objectives import semi_supervised as ss
from disentax.runner import loop
from disentax.train.logging import read_metrics

from helpers import QUICK, configure, same_leaves, train_until_interrupted

# A small model with separate parameter sets, as in the appendix of Siddharth et al. (2017):
# classifier φ_y (logits = W h + b), style encoder φ_z ([μ, logvar] = A [h; y] + a) and decoder θ
# (logits = V [y; z] + c), with h = x (no pre-encoder) so every gradient has a closed form.
P, K, D, B = 6, 3, 2, 5


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "W": rng.normal(size=(K, P)) * 0.7, "b": rng.normal(size=K) * 0.3,
        "A": rng.normal(size=(2 * D, P + K)) * 0.4, "a": rng.normal(size=2 * D) * 0.2,
        "V": rng.normal(size=(P, K + D)) * 0.6, "c": rng.normal(size=P) * 0.2,
    }
    x = (rng.uniform(size=(B, P)) > 0.5).astype(np.float64)
    labels = rng.integers(0, K, size=B)
    eps = rng.normal(size=(B, D))
    return params, x, labels, eps


def _forward(p, x, labels, eps):
    y = jax.nn.one_hot(labels, K, dtype=x.dtype)
    logits = x @ p["W"].T + p["b"]
    ml = jnp.concatenate([x, y], 1) @ p["A"].T + p["a"]
    mu, logvar = ml[:, :D], ml[:, D:]
    z = mu + jnp.exp(0.5 * logvar) * eps
    out = jnp.concatenate([y, z], 1) @ p["V"].T + p["c"]
    return logits, mu, logvar, out.reshape(B, P, 1, 1)


def _hand_gradients(p, x, labels, eps, alpha):
    """Siddharth et al. (2017), appendix: ∇_{θ,φz} = q(y_i|x_i)·∇L_{x|y};
    ∇_{φy} = q(y_i|x_i)[L_{x|y} + log p(y_i) − log q(y_i|x_i) − 1]·∇log q(y_i|x_i); plus
    α·∇log q(y_i|x_i). All in numpy float64, per example by hand, averaged; returned as gradients of
    the loss (the negative objective)."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    sig = lambda t: 1 / (1 + np.exp(-t))
    g = {k: np.zeros_like(v) for k, v in p.items()}
    for i in range(B):
        h, y = x[i], np.eye(K)[labels[i]]
        logits = p["W"] @ h + p["b"]
        log_q = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        q_i, lq = np.exp(log_q[labels[i]]), log_q[labels[i]]
        ml = p["A"] @ np.concatenate([h, y]) + p["a"]
        mu, lv = ml[:D], ml[D:]
        z = mu + np.exp(0.5 * lv) * eps[i]
        d = p["V"] @ np.concatenate([y, z]) + p["c"]
        log_px = np.sum(x[i] * np.log(sig(d)) + (1 - x[i]) * np.log(sig(-d)))
        kl = 0.5 * np.sum(np.exp(lv) + mu**2 - 1 - lv)
        L = log_px - kl
        r = x[i] - sig(d)  # ∂ log p(x|·)/∂d
        # θ: q_i ∇_θ L
        g["V"] += q_i * np.outer(r, np.concatenate([y, z]))
        g["c"] += q_i * r
        # φ_z: through μ and logvar (reparameterised z and the closed-form KL)
        dz = p["V"][:, K:].T @ r
        d_mu = dz - mu
        d_lv = dz * 0.5 * np.exp(0.5 * lv) * eps[i] - 0.5 * (np.exp(lv) - 1)
        g["A"] += q_i * np.outer(np.concatenate([d_mu, d_lv]), np.concatenate([h, y]))
        g["a"] += q_i * np.concatenate([d_mu, d_lv])
        # φ_y: (q_i [L + log p − log q − 1] + α) ∇ log q(y_i|x_i), ∇_logits log q = onehot − softmax
        coef = q_i * (L + math.log(1.0 / K) - lq - 1) + alpha
        dlogits = y - np.exp(log_q)
        g["W"] += coef * np.outer(dlogits, h)
        g["b"] += coef * dlogits
    return {k: -v / B for k, v in g.items()}


@pytest.mark.parametrize("alpha", [0.0, 2.5])
def test_supervised_gradients_equal_the_appendix_expressions(alpha):
    params, x, labels, eps = _setup()
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v) for k, v in params.items()}
        xs = jnp.asarray(x)

        def loss(p):
            logits, mu, logvar, out = _forward(p, xs, jnp.asarray(labels), jnp.asarray(eps))
            return ss.supervised_objective(xs.reshape(B, P, 1, 1), out, mu, logvar, logits, jnp.asarray(labels),
                                           alpha=alpha)[0]

        auto = jax.grad(loss)(p)
        hand = _hand_gradients(params, x, labels, eps, alpha)
        for k in params:
            np.testing.assert_allclose(np.asarray(auto[k]), hand[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_supervised_value_is_eq4_and_unsupervised_plugin_is_eq2():
    params, x, labels, eps = _setup(1)
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v) for k, v in params.items()}
        logits, mu, logvar, out = _forward(p, jnp.asarray(x), jnp.asarray(labels), jnp.asarray(eps))
        xr = jnp.asarray(x).reshape(B, P, 1, 1)
        loss, aux = ss.supervised_objective(xr, out, mu, logvar, logits, jnp.asarray(labels))
        l_xy, _, _ = ss.conditional_elbo(xr, out, mu, logvar)
        lq = np.asarray(jax.nn.log_softmax(logits))[np.arange(B), labels]
        ref = np.mean(np.exp(lq) * (np.asarray(l_xy) - math.log(K) - lq))
        np.testing.assert_allclose(float(loss), -ref, rtol=1e-12)
        # Eq. 2 with the plug-in: L_{x|y} − KL(q(y|x) ‖ uniform)
        uloss, uaux = ss.unsupervised_objective(xr, out, mu, logvar, logits, estimator="plugin")
        q = np.asarray(jax.nn.softmax(logits))
        kl_y = np.sum(q * (np.log(q) + math.log(K)), 1)
        np.testing.assert_allclose(float(uloss), -np.mean(np.asarray(l_xy) - kl_y), rtol=1e-12)
        # Concrete: the sample is scored in q and in the prior at the same temperature.
        log_y = dist.concrete_sample_log(jax.random.PRNGKey(0), logits, 0.5)
        closs, caux = ss.unsupervised_objective(xr, out, mu, logvar, logits, estimator="concrete", log_y=log_y,
                                                temperature=0.5)
        kl_c = dist.concrete_log_prob_from_log(log_y, logits, 0.5) - dist.concrete_log_prob_from_log(
            log_y, jnp.zeros_like(logits), 0.5)
        np.testing.assert_allclose(float(closs), -np.mean(np.asarray(l_xy) - np.asarray(kl_c)), rtol=1e-12)


def test_flag_selects_the_objective_with_finite_gradients_either_way():
    params, x, labels, eps = _setup(2)
    p = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    xr = jnp.asarray(x, jnp.float32).reshape(B, P, 1, 1)

    def loss(p, flag, lab):
        logits, mu, logvar, out = _forward(p, jnp.asarray(x, jnp.float32), jnp.asarray(labels), jnp.asarray(eps, jnp.float32))
        log_y = dist.concrete_sample_log(jax.random.PRNGKey(1), logits, 0.1)
        return ss.semi_supervised_vae(xr, out, mu, logvar, logits, lab, flag, estimator="concrete", log_y=log_y,
                                  temperature=0.1, alpha=1.0)

    f = jax.jit(jax.value_and_grad(loss, has_aux=True))
    (l_sup, _), g_sup = f(p, jnp.asarray(True), jnp.asarray(labels, jnp.int32))
    (l_uns, _), g_uns = f(p, jnp.asarray(False), jnp.full((B,), -1, jnp.int32))
    logits, mu, logvar, out = _forward(p, jnp.asarray(x, jnp.float32), jnp.asarray(labels), jnp.asarray(eps, jnp.float32))
    np.testing.assert_allclose(float(l_sup), float(ss.supervised_objective(xr, out, mu, logvar, logits, jnp.asarray(labels), alpha=1.0)[0]), rtol=1e-6)
    assert float(l_sup) != float(l_uns)
    for g in (g_sup, g_uns):
        assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(g))
    assert f._cache_size() == 1  # one compilation serves both kinds of batch


def test_labelled_set_has_exactly_l_distinct_examples_per_class_fixed_by_seed():
    digits = Digits("train")
    idx = labelled_indices(digits, "label", 7, seed=3)
    assert idx.size == 70 and np.unique(idx).size == 70
    np.testing.assert_array_equal(np.bincount(digits.np_labels[idx], minlength=10), np.full(10, 7))
    np.testing.assert_array_equal(idx, labelled_indices(digits, "label", 7, seed=3))
    assert not np.array_equal(idx, labelled_indices(digits, "label", 7, seed=4))
    ds = DSprites()
    idx = labelled_indices(ds, "shape", 5, seed=0)
    assert np.unique(idx).size == 15
    np.testing.assert_array_equal(np.bincount(ds.index_to_factors(idx)[:, 0], minlength=3), [5, 5, 5])
    with pytest.raises(ValueError, match="exceeds"):
        labelled_indices(digits, "label", 1000, seed=0)


def test_sampler_honours_supervision_rate_and_draws_only_labelled_examples():
    digits = Digits("train")
    lab = labelled_indices(digits, "label", 2, seed=0)
    sample = semi_supervised_sampler("label", lab, 0.3)
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    flags = np.asarray(jax.jit(jax.vmap(lambda k: sample(digits, k, 4)["supervised"]))(keys))
    sd = math.sqrt(0.3 * 0.7 / flags.size)
    assert abs(flags.mean() - 0.3) < 4 * sd, flags.mean()
    batched = jax.jit(lambda k: sample(digits, k, 64))
    same = [np.asarray(batched(keys[0])["x"]), np.asarray(batched(keys[0])["x"])]
    np.testing.assert_array_equal(*same)  # the step key alone decides
    allowed = {digits.np_images[i].tobytes(): digits.np_labels[i] for i in lab}
    seen_sup = seen_uns = 0
    for k in keys[:40]:
        b = batched(k)
        xs, ys = np.asarray(b["x"]), np.asarray(b["labels"])
        if bool(b["supervised"]):
            seen_sup += 1
            assert all(img.tobytes() in allowed and allowed[img.tobytes()] == y for img, y in zip(xs, ys))
        else:
            seen_uns += 1
            assert (ys == -1).all()
            assert sum(img.tobytes() not in allowed for img in xs) > 50
    assert seen_sup and seen_uns
    rates = [np.asarray(jax.vmap(lambda k: semi_supervised_sampler("label", lab, r)(digits, k, 2)["supervised"])(keys[:200])).mean()
             for r in (0.0, 1.0)]
    assert rates == [0.0, 1.0]


def small_config(**overrides):
    return configure("semi_supervised_digits", **{
        **QUICK, "num_steps": 30, "model.mlp_hidden": (32,), "model.latent_dim": 4, "num_viz_images": 4,
        "hp.labels_per_class": 3, "hp.supervision_rate": 0.5, **overrides})


def test_semi_supervised_trains_without_nan_and_resumes_exactly(tmp_path, monkeypatch):
    c = small_config(**{"hp.estimator": "concrete"})
    straight = loop.train(c, tmp_path / "straight", finish=True)
    records = read_metrics(tmp_path / "straight")
    assert all(np.isfinite(r["loss"]) for r in records)
    assert (tmp_path / "straight" / "analogies.png").exists()
    train_until_interrupted(c, tmp_path / "resumed", 15, monkeypatch)
    resumed = loop.train(c, tmp_path / "resumed", finish=False)
    assert same_leaves(straight["state"].params, resumed["state"].params)
    assert same_leaves(straight["state"].opt_state, resumed["state"].opt_state)
    rep = straight["method"].representation(straight["state"].params, Digits("test").images[:5])
    assert rep.shape == (5, 10 + 4)


def test_semi_supervised_config_errors_are_one_line():
    c = cfg.load_config_file("semi_supervised_digits")
    hp = c.semi_supervised
    hp.supervision_rate = 1.5
    with pytest.raises(cfg.ConfigError, match="config.semi_supervised.supervision_rate must be in"):
        cfg.validate(c)
    hp.supervision_rate, hp.estimator = 0.1, "reinforce"
    with pytest.raises(cfg.ConfigError, match="estimator must be one of plugin, concrete"):
        cfg.validate(c)
    hp.estimator, hp.labels_per_class = "plugin", 0
    with pytest.raises(cfg.ConfigError, match="0 when config.semi_supervised.labels_per_class is 0"):
        cfg.validate(c)
    # The TFDS datasets these configs name are registered (reading them needs the tfds extra).
    for name, dataset in (("semi_supervised_mnist", "mnist"), ("semi_supervised_svhn", "svhn_cropped"),
                          ("ml_vae_mnist", "mnist")):
        assert cfg.validate(cfg.load_config_file(name)).dataset == dataset
