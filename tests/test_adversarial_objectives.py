"""Adversarial objectives against explicit float64 formulas, loops and finite differences."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from disentax.objectives import adversarial as adv

# Jitted once per function: one compilation instead of one per eager op (eager is checked at the end).
disc_loss, gen_loss = jax.jit(adv.discriminator_loss), jax.jit(adv.generator_loss)
wgan_critic, wgan_gen, wgan_gp = jax.jit(adv.wgan_critic_loss), jax.jit(adv.wgan_generator_loss), jax.jit(
    adv.wgan_gp_critic_loss, static_argnames="weight")
wta, icm = jax.jit(adv.winner_take_all_loss), jax.jit(adv.icm_discriminator_loss)

EXTREMES = np.array([80.0, 1e4, -80.0, -1e4, 0.0, 3.0])


def _sigmoid(x):
    with np.errstate(over="ignore"):  # exp overflows to inf at extreme logits; 1 / (1 + inf) = 0 is right
        return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def _log_d(l):
    return math.log(1.0 / (1.0 + math.exp(-l)))


def _log_1md(l):
    return math.log(1.0 - 1.0 / (1.0 + math.exp(-l)))


def _softplus_asym(x):
    """softplus(x) for |x| ≥ 80, where the naive log(1 + e^x) overflows or rounds: max(x, 0) (+ e^-80)."""
    return np.maximum(np.asarray(x, np.float64), 0.0)


def _rng(seed=0):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- GAN


def test_discriminator_loss_matches_the_cross_entropy_loop():
    r = _rng(0)
    real, fake = r.normal(0, 3, 7), r.normal(0, 3, 5)
    loss, aux = disc_loss(jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32))
    ref = -sum(_log_d(v) for v in real) / 7 - sum(_log_1md(v) for v in fake) / 5
    np.testing.assert_allclose(float(loss), ref, rtol=1e-5)
    np.testing.assert_allclose(float(aux["d_real"]), np.mean(_sigmoid(real)), rtol=1e-5)
    np.testing.assert_allclose(float(aux["d_fake"]), np.mean(_sigmoid(fake)), rtol=1e-5)
    acc = 0.5 * (sum(v > 0 for v in real) / 7 + sum(v < 0 for v in fake) / 5)
    np.testing.assert_allclose(float(aux["accuracy"]), acc, rtol=1e-6)


def test_discriminator_loss_is_finite_at_extreme_logits():
    real, fake = jnp.asarray(EXTREMES, jnp.float32), jnp.asarray(-EXTREMES[::-1], jnp.float32)
    with np.errstate(divide="ignore"):
        assert not np.isfinite(np.log(_sigmoid(-1e4)))  # the naive formula fails here, even in float64
    loss, aux = disc_loss(real, fake)
    mid = lambda x: np.abs(x) < 80  # moderate logits: exact; extremes: asymptotic
    ref_real = np.where(mid(EXTREMES), np.log1p(np.exp(-np.clip(EXTREMES, -50, 50))), _softplus_asym(-EXTREMES))
    f = -EXTREMES[::-1]
    ref_fake = np.where(mid(f), np.log1p(np.exp(np.clip(f, -50, 50))), _softplus_asym(f))
    np.testing.assert_allclose(float(loss), ref_real.mean() + ref_fake.mean(), rtol=1e-6)
    assert all(np.isfinite(float(v)) for v in aux.values())
    g_real, g_fake = jax.jit(jax.grad(lambda a, b: adv.discriminator_loss(a, b)[0], argnums=(0, 1)))(real, fake)
    np.testing.assert_allclose(np.asarray(g_real), -_sigmoid(-EXTREMES) / 6, rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(np.asarray(g_fake), _sigmoid(f) / 6, rtol=1e-5, atol=1e-30)


def test_generator_loss_is_the_non_saturating_loss():
    r = _rng(1)
    fake = r.normal(0, 3, 6)
    loss, aux = gen_loss(jnp.asarray(fake, jnp.float32))
    np.testing.assert_allclose(float(loss), -sum(_log_d(v) for v in fake) / 6, rtol=1e-5)
    np.testing.assert_allclose(float(aux["d_fake"]), np.mean(_sigmoid(fake)), rtol=1e-5)
    ext = jnp.asarray(EXTREMES, jnp.float32)
    loss, _ = gen_loss(ext)
    ref = np.where(np.abs(EXTREMES) < 80, np.log1p(np.exp(-np.clip(EXTREMES, -50, 50))), _softplus_asym(-EXTREMES))
    np.testing.assert_allclose(float(loss), ref.mean(), rtol=1e-6)
    g = jax.jit(jax.grad(lambda l: adv.generator_loss(l)[0]))(ext)
    np.testing.assert_allclose(np.asarray(g), -_sigmoid(-EXTREMES) / 6, rtol=1e-5, atol=1e-30)


def test_logit_shapes_are_checked():
    with pytest.raises(ValueError, match="real_logits"):
        adv.discriminator_loss(jnp.zeros((4, 1)), jnp.zeros(4))
    with pytest.raises(ValueError, match="expert_logits"):
        adv.winner_take_all_loss(jnp.zeros(4))


# ----------------------------------------------------------------------------- WGAN


def test_wgan_losses_match_their_means():
    r = _rng(2)
    real, fake = r.normal(0, 5, 7), r.normal(0, 5, 5)
    loss, aux = wgan_critic(jnp.asarray(real), jnp.asarray(fake))
    w = sum(real) / 7 - sum(fake) / 5
    np.testing.assert_allclose(float(loss), -w, rtol=1e-5)
    np.testing.assert_allclose(float(aux["wasserstein"]), w, rtol=1e-5)
    gloss, gaux = wgan_gen(jnp.asarray(fake))
    np.testing.assert_allclose(float(gloss), -sum(fake) / 5, rtol=1e-5)
    np.testing.assert_allclose(float(gaux["critic_fake"]), sum(fake) / 5, rtol=1e-5)
    loss, aux = wgan_gp(jnp.asarray(real), jnp.asarray(fake), jnp.float32(0.3), weight=7.0)
    np.testing.assert_allclose(float(loss), -w + 7.0 * 0.3, rtol=1e-5)
    np.testing.assert_allclose(float(aux["gradient_penalty"]), 0.3, rtol=1e-6)
    np.testing.assert_allclose(float(aux["wasserstein"]), w, rtol=1e-5)
    loss10, _ = wgan_gp(jnp.asarray(real), jnp.asarray(fake), jnp.float32(0.3))
    np.testing.assert_allclose(float(loss10), -w + 10.0 * 0.3, rtol=1e-5)


C = 0.01


def _clip_setup(seed=3):
    r = _rng(seed)
    params = {"a": jnp.asarray(r.uniform(-C, C, (3, 4)), jnp.float32), "b": [jnp.asarray(r.uniform(-C, C, 5), jnp.float32)]}
    updates = jax.tree.map(lambda p: jnp.asarray(r.normal(0, C, p.shape), jnp.float32), params)
    return params, updates


def test_clip_params_keeps_every_leaf_in_bounds_and_leaves_the_rest_alone():
    params, updates = _clip_setup()
    tx = adv.clip_params(C)
    state = tx.init(params)
    clipped, _ = tx.update(updates, state, params)
    new = optax.apply_updates(params, clipped)
    plain = optax.apply_updates(params, updates)
    # p + u' is rounded once more after clip(p + u) − p: at most ~1 ulp of max(|p|, c) past c.
    tol = C * (1 + 2 * np.finfo(np.float32).eps)
    inside_total = 0
    for n, q in zip(jax.tree.leaves(new), jax.tree.leaves(plain)):
        n, q = np.asarray(n), np.asarray(q)
        assert np.all(np.abs(n) <= tol)
        inside = np.abs(q) <= C
        inside_total += inside.sum()
        np.testing.assert_allclose(n[inside], q[inside], rtol=0, atol=1e-7)
        np.testing.assert_allclose(n[~inside], np.sign(q[~inside]) * C, rtol=0, atol=1e-7)
    assert 0 < inside_total < sum(x.size for x in jax.tree.leaves(params))  # both cases present
    again, _ = jax.jit(tx.update)(updates, state, params)
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(clipped)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-9)


def test_clip_params_chained_after_an_optimiser_pulls_outside_params_in():
    params = {"w": jnp.asarray([1.0, -2.0, 0.005, 0.0], jnp.float32)}
    tx = optax.chain(optax.sgd(0.1), adv.clip_params(C))
    state = tx.init(params)
    for i in range(3):
        grads = {"w": jnp.asarray([0.3, -0.2, 0.01 * i, 1.0], jnp.float32)}
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        assert np.all(np.abs(np.asarray(params["w"])) <= C * (1 + 2 * np.finfo(np.float32).eps))


def test_clip_params_errors():
    for bad in (0.0, -0.01, float("nan")):
        with pytest.raises(ValueError, match="limit > 0"):
            adv.clip_params(bad)
    params, updates = _clip_setup()
    tx = adv.clip_params(C)
    with pytest.raises(ValueError, match="params"):
        tx.update(updates, tx.init(params))


# ----------------------------------------------------------------------------- WGAN-GP

B, D, H = 4, 3, 5


def _tanh_params(seed=4):
    return _rng(seed).normal(0, 1, (D, H))


def _tanh_critic_np(W, x):
    return np.tanh(x @ W).sum(-1)


def _fd_norms(W, x, h=1e-5):
    """Central finite-difference norm of ∇_{x_i} f(x)_i per example, in float64."""
    norms = []
    for i in range(x.shape[0]):
        g = []
        for d in range(x.shape[1]):
            e = np.zeros_like(x)
            e[i, d] = h
            g.append((_tanh_critic_np(W, x + e)[i] - _tanh_critic_np(W, x - e)[i]) / (2 * h))
        norms.append(np.linalg.norm(g))
    return np.array(norms)


@jax.jit
def _tanh_gp(W, real, fake, key):
    return adv.gradient_penalty(lambda x: jnp.sum(jnp.tanh(x @ W), axis=-1), real, fake, key)


@jax.jit
def _epsilons(real, fake, key):
    """ε of every element of x̂, read back through probe critics: for a one-hot mask m, the critic
    f(x)_i = ½ Σ m_i (x_i − fake_i)² depends on row i alone and has gradient norm ε_i |real − fake| at
    the one element m marks (every other row has gradient 0), so ε = B · gp_grad_norm / |real − fake| there."""
    size = real.size

    def one(flat_index):
        m = jax.nn.one_hot(flat_index, size, dtype=real.dtype).reshape(real.shape)
        critic = lambda x: 0.5 * jnp.sum((m * jnp.square(x - fake)).reshape(x.shape[0], -1), axis=-1)
        _, aux = adv.gradient_penalty(critic, real, fake, key)
        return aux["gp_grad_norm"] * real.shape[0] / jnp.abs(real.reshape(-1)[flat_index] - fake.reshape(-1)[flat_index])

    return jax.vmap(one)(jnp.arange(size)).reshape(real.shape)


def test_gradient_penalty_matches_finite_differences_at_the_interpolates():
    r = _rng(5)
    W = _tanh_params()
    real, fake = r.normal(0, 1, (B, D)), r.normal(0, 1, (B, D))
    key = jax.random.PRNGKey(0)
    with jax.enable_x64(True):
        Wj, rj, fj = jnp.asarray(W), jnp.asarray(real), jnp.asarray(fake)
        # real == fake: x̂ = real whatever ε is.
        pen, aux = _tanh_gp(Wj, rj, rj, key)
        norms = _fd_norms(W, real)
        np.testing.assert_allclose(float(pen), np.mean((norms - 1) ** 2), rtol=1e-7)
        np.testing.assert_allclose(float(aux["gp_grad_norm"]), norms.mean(), rtol=1e-7)
        # real ≠ fake: at x̂ = ε real + (1 − ε) fake, with ε read back through probe critics.
        eps = np.asarray(_epsilons(rj, fj, key))[:, 0]
        assert np.all((eps >= 0) & (eps <= 1)) and len(set(np.round(eps, 12))) == B
        x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
        pen, aux = _tanh_gp(Wj, rj, fj, key)
        norms = _fd_norms(W, x_hat)
        np.testing.assert_allclose(float(pen), np.mean((norms - 1) ** 2), rtol=1e-7)
        np.testing.assert_allclose(float(aux["gp_grad_norm"]), norms.mean(), rtol=1e-7)


def test_gradient_penalty_epsilon_is_one_per_example_broadcast_over_its_axes():
    r = _rng(6)
    shape = (3, 2, 2)
    with jax.enable_x64(True):
        real, fake = jnp.asarray(r.normal(0, 1, shape)), jnp.asarray(r.normal(0, 1, shape))
        eps = np.asarray(_epsilons(real, fake, jax.random.PRNGKey(1)))
    for k in range(shape[0]):
        np.testing.assert_allclose(eps[k], eps[k].flat[0], rtol=1e-9)  # one ε per row
    assert len(set(np.round(eps[:, 0, 0], 9))) == shape[0]  # but a different one per row
    assert np.all((eps >= 0) & (eps <= 1))


@jax.jit
def _row_gp(W, real, fake, key):
    k = 2  # the critic depends on row k alone
    return adv.gradient_penalty(lambda x: jnp.zeros(x.shape[0]).at[k].set(jnp.sum(jnp.tanh(x[k] @ W))),
                                real, fake, key)[0]


def test_gradient_penalty_rows_are_independent():
    r = _rng(7)
    W = jnp.asarray(_tanh_params(), jnp.float32)
    real, fake = r.normal(0, 1, (B, D)).astype(np.float32), r.normal(0, 1, (B, D)).astype(np.float32)
    key = jax.random.PRNGKey(2)
    pen = _row_gp(W, real, fake, key)
    real2, fake2 = real.copy(), fake.copy()
    others = np.arange(B) != 2
    real2[others] = r.normal(0, 5, (B - 1, D))
    fake2[others] = r.normal(0, 5, (B - 1, D))
    pen2 = _row_gp(W, real2, fake2, key)
    assert float(pen) == float(pen2)
    assert float(pen) >= (B - 1) / B  # the constant rows have gradient 0, a penalty of 1 each


def test_gradient_penalty_epsilon_is_uniform():
    n = 4096
    real, fake = jnp.ones((n, 1)), jnp.zeros((n, 1))
    critic = lambda x: 0.5 * jnp.sum(jnp.square(x), axis=-1)  # gradient x̂ = ε, norm ε
    pen, aux = jax.jit(lambda r, f, k: adv.gradient_penalty(critic, r, f, k))(real, fake, jax.random.PRNGKey(3))
    np.testing.assert_allclose(float(aux["gp_grad_norm"]), 0.5, atol=0.03)  # E ε
    np.testing.assert_allclose(float(pen), 1 / 3, atol=0.03)  # E (ε − 1)²


@jax.jit
def _linear_gp(scale, real, fake, key):
    w = jnp.full((2, 2), 0.5, real.dtype)  # ‖w‖ = 1 exactly in floating point
    return adv.gradient_penalty(lambda x: scale * jnp.sum(x * w, axis=(1, 2)) + 3.0, real, fake, key)


@pytest.mark.parametrize("x64", [False, True])
def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic(x64):
    with jax.enable_x64(x64):
        r = _rng(8)
        real, fake = jnp.asarray(r.normal(0, 1, (5, 2, 2))), jnp.asarray(r.normal(0, 1, (5, 2, 2)))
        one = jnp.asarray(1.0, real.dtype)
        pen, aux = _linear_gp(one, real, fake, jax.random.PRNGKey(4))
        assert float(pen) == 0.0 and float(aux["gp_grad_norm"]) == 1.0
        pen, _ = _linear_gp(3 * one, real, fake, jax.random.PRNGKey(4))
        np.testing.assert_allclose(float(pen), 4.0, rtol=1e-6)  # (‖3w‖ − 1)²


def _linear_pen(w, b, real, fake):
    return adv.gradient_penalty(lambda x: x @ w + b, real, fake, jax.random.PRNGKey(5))[0]


def test_gradient_penalty_gradient_is_finite_at_a_constant_critic():
    r = _rng(9)
    real, fake = jnp.asarray(r.normal(0, 1, (B, D)), jnp.float32), jnp.asarray(r.normal(0, 1, (B, D)), jnp.float32)
    value_and_grads = jax.jit(jax.value_and_grad(_linear_pen, argnums=(0, 1, 2, 3)))
    w0, b = jnp.zeros(D), jnp.float32(1.0)
    pen, grads = value_and_grads(w0, b, real, fake)
    assert float(pen) == 1.0  # the critic's gradient is 0: (0 − 1)²
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    # Away from zero the gradient is the closed form d/dw (‖w‖ − 1)² = 2 (‖w‖ − 1) w / ‖w‖.
    w = np.array([0.3, -0.4, 1.2])
    nw = np.linalg.norm(w)
    _, grads = value_and_grads(jnp.asarray(w, jnp.float32), b, real, fake)
    np.testing.assert_allclose(np.asarray(grads[0]), 2 * (nw - 1) * w / nw, rtol=1e-5)


def test_gradient_penalty_checks_shapes():
    x = jnp.zeros((B, D))
    with pytest.raises(ValueError, match="same shape"):
        adv.gradient_penalty(lambda x: x.sum(-1), x, jnp.zeros((B, D + 1)), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="scores of shape"):
        jax.eval_shape(lambda x: adv.gradient_penalty(lambda x: x, x, x, jax.random.PRNGKey(0)), x)


# ----------------------------------------------------------------------------- ICM


def test_winner_take_all_matches_the_loop():
    r = _rng(10)
    logits = r.normal(0, 3, (3, 6))
    loss, aux = wta(jnp.asarray(logits, jnp.float32))
    best = [max(_log_d(logits[j, b]) for j in range(3)) for b in range(6)]
    np.testing.assert_allclose(float(loss), -sum(best) / 6, rtol=1e-5)
    np.testing.assert_allclose(float(aux["log_score"]), sum(best) / 6, rtol=1e-5)
    winners = [int(np.argmax([_log_d(logits[j, b]) for j in range(3)])) for b in range(6)]
    assert aux["winners"].dtype == jnp.int32 and list(np.asarray(aux["winners"])) == winners
    np.testing.assert_allclose(np.asarray(aux["win_share"]), np.bincount(winners, minlength=3) / 6, rtol=1e-6)


def test_winner_take_all_gradient_reaches_only_the_winner():
    # Columns: random, a two-way tie, a three-way tie, extremes, and two logits whose log c are both 0 in float32.
    logits = np.array([[0.5, 2.0, -1.0, -1e4, 1e4, 200.0],
                       [-0.3, 2.0, -1.0, -80.0, 80.0, 300.0],
                       [1.5, -3.0, -1.0, -1e4, -1e4, -5.0]])
    n, b = logits.shape
    l = jnp.asarray(logits, jnp.float32)
    loss, aux = wta(l)
    winners = [2, 0, 0, 1, 0, 1]  # ties to the lowest index; 300 beats 200 though log c rounds to 0 for both
    assert list(np.asarray(aux["winners"])) == winners
    ref = np.array([_log_d(logits[winners[i], i]) if abs(logits[winners[i], i]) < 80 else
                    -_softplus_asym(-logits[winners[i], i]) for i in range(b)])
    np.testing.assert_allclose(float(loss), -ref.mean(), rtol=1e-6)
    g = np.asarray(jax.jit(jax.grad(lambda x: adv.winner_take_all_loss(x)[0]))(l))
    assert np.all(np.isfinite(g))
    expected = np.zeros_like(logits)
    for i, j in enumerate(winners):
        expected[j, i] = -_sigmoid(-logits[j, i]) / b  # d/dl log_sigmoid(l) = sigmoid(−l)
    losers = expected == 0
    losers[winners, np.arange(b)] = False
    assert np.all(g[losers] == 0.0)
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-30)


def test_icm_discriminator_loss_matches_the_loop():
    r = _rng(11)
    canon, experts = r.normal(0, 3, 5), r.normal(0, 3, (3, 4))
    loss, aux = icm(jnp.asarray(canon, jnp.float32), jnp.asarray(experts, jnp.float32))
    ref = -sum(_log_d(v) for v in canon) / 5
    ref -= sum(sum(_log_1md(experts[j, b]) for b in range(4)) / 4 for j in range(3)) / 3
    np.testing.assert_allclose(float(loss), ref, rtol=1e-5)
    np.testing.assert_allclose(float(aux["d_canonical"]), _sigmoid(canon).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(aux["d_experts"]), _sigmoid(experts).mean(), rtol=1e-5)
    # Extremes: −log D(x) ≈ max(−x, 0), −log(1 − D) ≈ max(l, 0).
    canon_x, experts_x = EXTREMES[:4], np.stack([EXTREMES[:4], -EXTREMES[:4]])
    lx = (jnp.asarray(canon_x, jnp.float32), jnp.asarray(experts_x, jnp.float32))
    loss, _ = icm(*lx)
    np.testing.assert_allclose(float(loss), _softplus_asym(-canon_x).mean() + _softplus_asym(experts_x).mean(),
                               rtol=1e-6)
    gc, ge = jax.jit(jax.grad(lambda a, e: adv.icm_discriminator_loss(a, e)[0], argnums=(0, 1)))(*lx)
    np.testing.assert_allclose(np.asarray(gc), -_sigmoid(-canon_x) / 4, rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(np.asarray(ge), _sigmoid(experts_x) / 8, rtol=1e-5, atol=1e-30)


# ----------------------------------------------------------------------------- jit / vmap


def _gp(real, fake, key):
    w = jnp.arange(1.0, D + 1) / D
    return adv.gradient_penalty(lambda x: jnp.sum(jnp.tanh(x * w), axis=-1), real, fake, key)


CASES = {
    "discriminator_loss": (adv.discriminator_loss, ((5,), (4,))),
    "generator_loss": (adv.generator_loss, ((5,),)),
    "wgan_critic_loss": (adv.wgan_critic_loss, ((5,), (4,))),
    "wgan_generator_loss": (adv.wgan_generator_loss, ((5,),)),
    "wgan_gp_critic_loss": (adv.wgan_gp_critic_loss, ((5,), (4,), ())),
    "winner_take_all_loss": (adv.winner_take_all_loss, ((3, 5),)),
    "icm_discriminator_loss": (adv.icm_discriminator_loss, ((5,), (3, 4))),
    "gradient_penalty": (_gp, ((B, D), (B, D), "key")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_and_vmap_agree_with_eager(name):
    fn, shapes = CASES[name]
    r = _rng(12)
    V = 2
    stacked = [jax.random.split(jax.random.PRNGKey(7), V) if s == "key" else
               jnp.asarray(r.normal(0, 10, (V, *s)), jnp.float32) for s in shapes]
    jitted, mapped = jax.jit(fn), jax.vmap(fn)(*stacked)
    for i in range(V):
        args = [a[i] for a in stacked]
        loss, aux = fn(*args)
        j_loss, j_aux = jitted(*args)
        np.testing.assert_allclose(float(j_loss), float(loss), rtol=1e-6)
        np.testing.assert_allclose(float(mapped[0][i]), float(loss), rtol=1e-6)
        assert set(j_aux) == set(aux) == set(mapped[1])
        for k in aux:
            np.testing.assert_allclose(np.asarray(j_aux[k]), np.asarray(aux[k]), rtol=1e-6, err_msg=k)
            np.testing.assert_allclose(np.asarray(mapped[1][k][i]), np.asarray(aux[k]), rtol=1e-6, err_msg=k)
