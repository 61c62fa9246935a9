"""The selectivity objective of Thomas et al. (2018): the two scores and Eq. 1 against float64 loops
(extreme distances included), and the off-policy REINFORCE surrogate against the exact gradient of
an enumerated expectation."""
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.objectives import selectivity as sel


def _kernel_loop(h_next, h, phi, sigma):
    out = np.zeros(phi.shape[:-1])
    for idx in np.ndindex(*phi.shape[:-1]):
        d2 = sum((float(h_next[idx][k]) - float(h[idx][k]) - float(phi[idx][k])) ** 2 for k in range(phi.shape[-1]))
        out[idx] = -d2 / (2 * sigma**2)
    return out


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_gaussian_kernel_log_equals_a_loop_and_defaults_to_sigma_root_k(scale):
    rng = np.random.default_rng(0)
    b, n, k = 3, 5, 4
    h, h_next, phi = (scale * rng.normal(size=s) for s in ((b, 1, k), (b, 1, k), (b, n, k)))
    got = np.asarray(sel.gaussian_kernel_log(*(jnp.asarray(a, jnp.float32) for a in (h_next, h, phi))))
    want = _kernel_loop(np.broadcast_to(h_next, phi.shape), np.broadcast_to(h, phi.shape), phi, math.sqrt(k))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.all(np.isfinite(got)) and (scale == 1.0 or got.max() < -1e4)  # far: very negative, not -inf
    got2 = np.asarray(sel.gaussian_kernel_log(jnp.asarray(h_next), jnp.asarray(h), jnp.asarray(phi), sigma=0.5))
    np.testing.assert_allclose(got2, want * k / 0.25, rtol=1e-5)


def test_positive_projection_is_zero_at_zero_and_for_negative_projections():
    h = jnp.zeros((4, 2))
    h_next = jnp.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0], [2.0, 3.0]])
    phi = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.5, -1.0]])  # 1, 0, -1, 1 - 3 = -2
    np.testing.assert_allclose(np.asarray(sel.positive_projection(h_next, h, phi)), [1.0, 0.0, 0.0, 0.0])
    logs = np.asarray(sel.positive_projection_log(h_next, h, phi, eps=1e-3))
    np.testing.assert_allclose(logs, np.log([1.001, 1e-3, 1e-3, 1e-3]), rtol=1e-6, atol=1e-6)
    # The floor passes no gradient where the projection is negative, and the full one where positive.
    g = jax.grad(lambda hn: sel.positive_projection_log(hn, h, phi).sum())(h_next)
    np.testing.assert_allclose(np.asarray(g[2:]), 0.0)
    np.testing.assert_allclose(np.asarray(g[0]), np.asarray(phi[0]) / 1.001, rtol=1e-6)


def _selectivity_loop(log_b, log_all):
    return np.array([log_b[i] - math.log(sum(math.exp(v) for v in log_all[i]) / len(log_all[i]))
                     for i in range(len(log_b))])


def test_selectivity_equals_eq_1_by_loop_and_survives_extreme_scores():
    rng = np.random.default_rng(1)
    log_all = rng.normal(-3.0, 2.0, (6, 7))
    log_b = log_all[np.arange(6), rng.integers(0, 7, 6)]
    want = _selectivity_loop(log_b, log_all)
    got = np.asarray(sel.selectivity(jnp.asarray(log_b, jnp.float32), jnp.asarray(log_all, jnp.float32)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.all(got <= math.log(7) + 1e-6)  # the behaviour factor is one of the n
    # Every score far below exp's range: the ratio is unchanged (a direct exp would give 0/0).
    far = np.asarray(sel.selectivity(jnp.asarray(log_b - 2e4, jnp.float32), jnp.asarray(log_all - 2e4, jnp.float32)))
    assert np.all(np.isfinite(far))
    np.testing.assert_allclose(far, want, atol=5e-3)  # float32 at 2e4: a resolution of 2e-3
    # One factor far better than the rest: S -> log n for it, and very negative but finite for the others.
    one = np.full((2, 4), -5e3)
    one[:, 0] = 0.0
    s = np.asarray(sel.selectivity(jnp.asarray([0.0, -5e3]), jnp.asarray(one)))  # the best, then a poor one
    np.testing.assert_allclose(s, [math.log(4), -5e3 + math.log(4)], rtol=1e-6)


def test_entropy_equals_a_loop_and_is_zero_when_saturated():
    logits = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [1e4, 0.0, -1e4]])
    want = []
    for row in logits:
        p = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        want.append(-sum(q * math.log(q) for q in p if q > 0))
    got = np.asarray(sel.entropy(jnp.asarray(logits, jnp.float32)))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got[0] == pytest.approx(math.log(3), rel=1e-6)
    assert np.all(np.isfinite(np.asarray(jax.grad(lambda x: sel.entropy(x).sum())(jnp.asarray(logits)))))


# ----------------------------------------------------------------------------- the REINFORCE check
#
# θ drives both a softmax policy and a differentiable reward f_θ(a); actions are drawn from an
# ε-greedy behaviour μ = (1 − ε)π + ε/A ≠ π. Averaging the per-action surrogate gradient EXACTLY over
# μ must give the exact gradient of E_π[f_θ] (App. D), whatever the baseline.

A = 3
EPS = 0.3


def _nets(theta):
    w1 = jnp.arange(12.0).reshape(A, 4) / 7.0 - 0.8
    w2 = jnp.cos(jnp.arange(12.0).reshape(A, 4))
    logits = w1 @ theta
    f = jnp.tanh(w2 @ theta) + 0.3 * theta[0] ** 2  # the reward depends on θ directly
    return logits, f


def _mu(logits):
    return (1 - EPS) * jax.nn.softmax(logits) + EPS / A


def _surrogate(theta, a, baseline):
    logits, f = _nets(theta)
    logp = jax.nn.log_softmax(logits)
    w = jnp.exp(logp[a]) / _mu(logits)[a]
    direct = -jax.lax.stop_gradient(w) * f[a]
    loss, _ = sel.reinforce_loss(logp[a][None], f[a][None], jnp.asarray([baseline]), w[None])
    return direct + loss


@pytest.mark.parametrize("baseline", [0.0, 0.7, -3.0])
def test_reinforce_surrogate_averaged_over_the_behaviour_is_the_exact_gradient(baseline):
    with jax.enable_x64(True):
        theta = jnp.array([0.3, -0.5, 0.8, 0.1], jnp.float64)
        exact = jax.grad(lambda t: jnp.sum(jax.nn.softmax(_nets(t)[0]) * _nets(t)[1]))(theta)
        mu = _mu(_nets(theta)[0])
        assert not np.allclose(np.asarray(mu), np.asarray(jax.nn.softmax(_nets(theta)[0])))
        est = sum(mu[a] * jax.grad(_surrogate)(theta, a, baseline) for a in range(A))
        np.testing.assert_allclose(np.asarray(est), -np.asarray(exact), rtol=1e-6, atol=1e-12)


def test_reinforce_over_two_steps_uses_the_product_of_weights_and_the_sum_of_log_probs():
    """A 2-step trajectory whose second policy reads the first action: E_π[f(a1, a2)] enumerated."""

    def policies(theta, a1):
        l1 = _nets(theta)[0]
        l2 = _nets(theta * (1.0 + 0.5 * a1))[0][::-1]
        return l1, l2

    def f(theta, a1, a2):
        return jnp.sin(theta[1] * (a1 + 1) + theta[2] * (a2 - 1)) + theta[3] * a1

    def expected(theta):
        total = 0.0
        for a1, a2 in itertools.product(range(A), repeat=2):
            l1, l2 = policies(theta, a1)
            total = total + jax.nn.softmax(l1)[a1] * jax.nn.softmax(l2)[a2] * f(theta, a1, a2)
        return total

    def surrogate(theta, a1, a2):
        l1, l2 = policies(theta, a1)
        logp = jax.nn.log_softmax(l1)[a1] + jax.nn.log_softmax(l2)[a2]
        w = jnp.exp(logp) / (_mu(l1)[a1] * _mu(l2)[a2])
        r = f(theta, a1, a2)
        loss, _ = sel.reinforce_loss(logp[None], r[None], jnp.asarray([0.4]), w[None])
        return -jax.lax.stop_gradient(w) * r + loss

    with jax.enable_x64(True):
        theta = jnp.array([0.2, 0.9, -0.4, 0.6], jnp.float64)
        exact = jax.grad(expected)(theta)
        est = 0.0
        for a1, a2 in itertools.product(range(A), repeat=2):
            l1, l2 = policies(theta, a1)
            est = est + _mu(l1)[a1] * _mu(l2)[a2] * jax.grad(surrogate)(theta, a1, a2)
        np.testing.assert_allclose(np.asarray(est), -np.asarray(exact), rtol=1e-6, atol=1e-12)


def test_reinforce_loss_stops_reward_and_weight_and_regresses_the_baseline():
    logp, r, v, w = (jnp.array([-0.5, -1.0]), jnp.array([1.0, 2.0]), jnp.array([0.5, 0.0]), jnp.array([1.0, 0.5]))
    loss, aux = sel.reinforce_loss(logp, r, v, w)
    assert float(aux["policy_loss"]) == pytest.approx(-np.mean([1.0 * 0.5 * -0.5, 0.5 * 2.0 * -1.0]))
    assert float(aux["baseline_loss"]) == pytest.approx(np.mean([0.25, 4.0]))
    assert float(loss) == pytest.approx(float(aux["policy_loss"] + aux["baseline_loss"]))
    g_r, g_w, g_v = jax.grad(lambda r, w, v: sel.reinforce_loss(logp, r, v, w)[0], argnums=(0, 1, 2))(r, w, v)
    assert np.all(np.asarray(g_r) == 0) and np.all(np.asarray(g_w) == 0)
    np.testing.assert_allclose(np.asarray(g_v), -(np.asarray(r) - np.asarray(v)))  # d/dV mean((R-V)²), B = 2
