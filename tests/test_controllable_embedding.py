"""Banijamali et al. (2018)'s bound, term by term against float64 numpy / scipy (incl. extreme
log-variances), the whole of Eq. 5 against a numpy sum, Eq. 2 and its inverse (Sherman–Morrison
against a general inverse), and Eq. 6's stopped gradient."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from disentax.objectives import controllable_embedding as ce


def _gauss(rng, b, d, extreme=False):
    m, lv = rng.normal(size=(b, d)), rng.normal(size=(b, d))
    if extreme:
        lv[0] = -18.0  # a nearly deterministic posterior
        lv[1] = 12.0  # a very broad one
        m[2] = 300.0
    return m, lv


def _np_kl(qm, ql, pm, pl):
    return (0.5 * (pl - ql + (np.exp(ql) + (qm - pm) ** 2) / np.exp(pl) - 1.0)).sum(-1)


@pytest.mark.parametrize("extreme", [False, True])
def test_gaussian_terms_equal_scipy(extreme):
    rng = np.random.default_rng(0)
    qm, ql = _gauss(rng, 4, 3, extreme)
    pm, pl = _gauss(rng, 4, 3, extreme)
    pl = pl[::-1].copy()  # the extreme rows differ between q and p
    z = rng.normal(size=(4, 3))
    f = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    ent = np.asarray(ce.gaussian_entropy(f(ql)))
    want_ent = np.array([sum(stats.norm(0, math.exp(0.5 * s)).entropy() for s in row) for row in ql])
    np.testing.assert_allclose(ent, want_ent, rtol=1e-5, atol=1e-5)
    logp = np.asarray(ce.gaussian_log_density(f(z), f(pm), f(pl)))
    want_logp = np.array([sum(stats.norm(m, math.exp(0.5 * s)).logpdf(x) for x, m, s in zip(zr, mr, sr))
                          for zr, mr, sr in zip(z, pm, pl)])
    np.testing.assert_allclose(logp, want_logp, rtol=1e-5)
    kl = np.asarray(ce.gaussian_kl(f(qm), f(ql), f(pm), f(pl)))
    np.testing.assert_allclose(kl, _np_kl(qm, ql, pm, pl), rtol=1e-4)
    assert np.all(kl >= 0)
    # Identical Gaussians: zero, exactly.
    assert np.all(np.asarray(ce.gaussian_kl(f(qm), f(ql), f(qm), f(ql))) == 0)


def test_bernoulli_log_likelihood_equals_a_loop_over_pixels():
    rng = np.random.default_rng(1)
    x = (rng.uniform(size=(3, 4, 4, 1)) > 0.5).astype(np.float64)
    x[2] = rng.uniform(size=(4, 4, 1))  # grey levels: the negative cross-entropy
    logits = rng.normal(scale=3.0, size=x.shape)
    logits[0, 0, 0, 0], logits[1, 0, 0, 0] = 60.0, -60.0  # saturated
    got = np.asarray(ce.bernoulli_log_likelihood(jnp.asarray(x, jnp.float32), jnp.asarray(logits, jnp.float32)))
    want = np.zeros(3)
    for i in np.ndindex(x.shape):
        p = 1.0 / (1.0 + math.exp(-logits[i]))
        lp1 = -math.log1p(math.exp(-logits[i])) if logits[i] > -30 else logits[i]
        lp0 = -math.log1p(math.exp(logits[i])) if logits[i] < 30 else -logits[i]
        want[i[0]] += x[i] * lp1 + (1 - x[i]) * lp0
        assert 0 <= p <= 1
    np.testing.assert_allclose(got, want, rtol=1e-5)


# ----------------------------------------------------------------------------- Eq. 2 and δ


def test_rank_one_inverse_is_the_inverse():
    rng = np.random.default_rng(2)
    v, r = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    a = np.asarray(ce.rank_one_matrix(jnp.asarray(v), jnp.asarray(r)))
    np.testing.assert_allclose(a, np.eye(3) + v[:, :, None] * r[:, None, :], rtol=1e-6)
    inv = np.asarray(ce.rank_one_inverse(jnp.asarray(v, jnp.float32), jnp.asarray(r, jnp.float32)))
    np.testing.assert_allclose(inv, np.asarray(jnp.linalg.inv(jnp.asarray(a, jnp.float32))), rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(inv @ a, np.broadcast_to(np.eye(3), a.shape), atol=1e-4)
    # Exactly singular (1 + rᵀv = 0): finite, not a NaN.
    v0 = np.array([[1.0, 0.0]], np.float32)
    r0 = np.array([[-1.0, 0.0]], np.float32)
    assert np.all(np.isfinite(np.asarray(ce.rank_one_inverse(v0, r0))))


def test_invert_transition_undoes_locally_linear():
    rng = np.random.default_rng(3)
    b, d, u_dim = 6, 2, 2
    v, r = 0.5 * rng.normal(size=(b, d)), 0.5 * rng.normal(size=(b, d))
    a = ce.rank_one_matrix(jnp.asarray(v, jnp.float32), jnp.asarray(r, jnp.float32))
    bm, c = jnp.asarray(rng.normal(size=(b, d, u_dim)), jnp.float32), jnp.asarray(rng.normal(size=(b, d)), jnp.float32)
    z, u = jnp.asarray(rng.normal(size=(b, d)), jnp.float32), jnp.asarray(rng.normal(size=(b, u_dim)), jnp.float32)
    z_next = ce.locally_linear(a, bm, c, z, u)
    want = np.einsum("bij,bj->bi", np.asarray(a), np.asarray(z)) + np.einsum("bij,bj->bi", np.asarray(bm),
                                                                               np.asarray(u)) + np.asarray(c)
    np.testing.assert_allclose(np.asarray(z_next), want, rtol=1e-5, atol=1e-6)
    back = ce.invert_transition(a, bm, c, z_next, u, A_inverse=ce.rank_one_inverse(jnp.asarray(v, jnp.float32),
                                                                                  jnp.asarray(r, jnp.float32)))
    np.testing.assert_allclose(np.asarray(back), np.asarray(z), rtol=1e-4, atol=1e-5)
    solved = ce.invert_transition(a, bm, c, z_next, u)  # the general solve
    np.testing.assert_allclose(np.asarray(solved), np.asarray(z), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- Eq. 6 and Eq. 5


def test_aligned_kl_stops_the_prior_gradient_or_not():
    rng = np.random.default_rng(4)
    vm, vl, xm, xl = (jnp.asarray(rng.normal(size=(3, 2)), jnp.float32) for _ in range(4))
    f = lambda stop: lambda a, b: ce.aligned_kl(vm, vl, a, b, stop_prior_gradient=stop).sum()  # noqa: E731
    stopped = jax.grad(f(True), argnums=(0, 1))(xm, xl)
    assert all(np.all(np.asarray(g) == 0) for g in stopped)
    free = jax.grad(f(False), argnums=(0, 1))(xm, xl)
    assert all(np.all(np.asarray(g) != 0) for g in free)
    # Same value either way; the gradient in q(v|y) is there in both.
    np.testing.assert_allclose(float(f(True)(xm, xl)), float(f(False)(xm, xl)))
    np.testing.assert_allclose(np.asarray(ce.aligned_kl(vm, vl, xm, xl)),
                               _np_kl(*(np.asarray(a, np.float64) for a in (vm, vl, xm, xl))), rtol=1e-5)
    gv = jax.grad(lambda m: ce.aligned_kl(m, vl, xm, xl).sum())(vm)
    np.testing.assert_allclose(np.asarray(gv), (np.asarray(vm) - np.asarray(xm)) / np.exp(np.asarray(xl)), rtol=1e-5)


@pytest.mark.parametrize("extreme", [False, True])
def test_elbo_is_the_sum_of_its_terms(extreme):
    rng = np.random.default_rng(5 + extreme)
    b, d, dw = 5, 2, 3
    g = lambda: _gauss(rng, b, d, extreme)  # noqa: E731
    zn, zb, et, v, vp = g(), g(), g(), g(), g()
    wx, wy = _gauss(rng, b, dw, extreme), _gauss(rng, b, dw)
    z_t = rng.normal(size=(b, d))
    log_px, log_py = rng.normal(-100, 10, b), rng.normal(-100, 10, b)
    mx, my = -1.0, 1.0
    f32 = lambda t: tuple(jnp.asarray(a, jnp.float32) for a in t)  # noqa: E731
    loss, aux = ce.dynamics_content_elbo(
        log_px_next=jnp.asarray(log_px, jnp.float32), z_next=f32(zn), z_bar=f32(zb), encoder_t=f32(et),
        z_t=jnp.asarray(z_t, jnp.float32), w_x=f32(wx), w_x_prior_mean=mx, log_py=jnp.asarray(log_py, jnp.float32),
        v=f32(v), v_prior=f32(vp), w_y=f32(wy), w_y_prior_mean=my)
    ent = (0.5 * (math.log(2 * math.pi) + 1 + zn[1])).sum(-1)
    logp = (-0.5 * (math.log(2 * math.pi) + et[1] + (z_t - et[0]) ** 2 / np.exp(et[1]))).sum(-1)
    terms = {"reconstruction_x": -log_px, "kl_z_bar": _np_kl(*zb, *et), "entropy_z_next": ent, "log_p_z_t": logp,
             "kl_w_x": _np_kl(*wx, mx, 0.0), "reconstruction_y": -log_py, "kl_v": _np_kl(*v, *vp),
             "kl_w_y": _np_kl(*wy, my, 0.0)}
    elbo = (-terms["reconstruction_x"] - terms["kl_z_bar"] + terms["entropy_z_next"] + terms["log_p_z_t"]
            - terms["kl_w_x"] - terms["reconstruction_y"] - terms["kl_v"] - terms["kl_w_y"])
    rtol = 1e-4
    np.testing.assert_allclose(float(loss), -elbo.mean(), rtol=rtol)
    np.testing.assert_allclose(float(aux["elbo"]), elbo.mean(), rtol=rtol)
    for name, want in terms.items():
        np.testing.assert_allclose(float(aux[name]), want.mean(), rtol=rtol, err_msg=name)
    x_half = -terms["reconstruction_x"] - terms["kl_z_bar"] + terms["entropy_z_next"] + terms["log_p_z_t"] - terms[
        "kl_w_x"]
    np.testing.assert_allclose(float(aux["elbo_x"]), x_half.mean(), rtol=rtol)
    np.testing.assert_allclose(float(aux["elbo_x"] + aux["elbo_y"]), elbo.mean(), rtol=rtol)


def test_elbo_rejects_bad_shapes():
    z = (jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    kw = dict(z_next=z, z_bar=z, encoder_t=z, z_t=jnp.zeros((2, 2)), w_x=z, w_x_prior_mean=-1.0, v=z, v_prior=z,
              w_y=z, w_y_prior_mean=1.0)
    with pytest.raises(ValueError, match=r"log_px_next and log_py must be \[B\]"):
        ce.dynamics_content_elbo(log_px_next=jnp.zeros((2, 1)), log_py=jnp.zeros(2), **kw)
    with pytest.raises(ValueError, match="must be a \\(mean, logvar\\) pair"):
        ce.dynamics_content_elbo(log_px_next=jnp.zeros(2), log_py=jnp.zeros(2), **{**kw, "v": jnp.zeros((2, 2))})
    with pytest.raises(ValueError, match="z_t must have the shape"):
        ce.dynamics_content_elbo(log_px_next=jnp.zeros(2), log_py=jnp.zeros(2), **{**kw, "z_t": jnp.zeros((2, 3))})
