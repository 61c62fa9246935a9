import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import objectives


def _np_bernoulli_ll(x, logits):
    x, l = np.asarray(x, np.float64), np.asarray(logits, np.float64)
    return (x * l - np.logaddexp(0, l)).reshape(x.shape[0], -1).sum(-1)


def _np_kl(mu, logvar):
    mu, lv = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return 0.5 * (np.exp(lv) + mu**2 - 1 - lv)


@pytest.fixture
def batch():
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    x = (jax.random.uniform(k1, (5, 8, 8, 1)) > 0.5).astype(jnp.float32)
    out = 3 * jax.random.normal(k2, (5, 8, 8, 1))
    mu = jax.random.normal(k3, (5, 4))
    logvar = jax.random.normal(k4, (5, 4))
    return x, out, mu, logvar


def test_bernoulli_reconstruction_matches_numpy(batch):
    x, out, _, _ = batch
    got = objectives.reconstruction_log_likelihood(x, out, "bernoulli")
    np.testing.assert_allclose(got, _np_bernoulli_ll(x, out), rtol=1e-5)


def test_bernoulli_reconstruction_extreme_logits():
    x = jnp.array([[[[1.0], [0.0]]]])
    out = jnp.array([[[[100.0], [-100.0]]]])
    np.testing.assert_allclose(objectives.reconstruction_log_likelihood(x, out), 0.0, atol=1e-6)
    out = jnp.array([[[[-100.0], [100.0]]]])
    np.testing.assert_allclose(objectives.reconstruction_log_likelihood(x, out), -200.0, rtol=1e-6)


def test_gaussian_reconstruction_is_squared_error_plus_constant(batch):
    x, out, _, _ = batch
    mean = 1 / (1 + np.exp(-np.asarray(out, np.float64)))
    expected = -((np.asarray(x) - mean) ** 2).reshape(5, -1).sum(-1) - 64 * 0.5 * math.log(math.pi)
    got = objectives.reconstruction_log_likelihood(x, out, "gaussian")
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_elbo_terms_against_numpy(batch):
    x, out, mu, logvar = batch
    loss, aux = objectives.elbo(x, out, mu, logvar)
    rec = -_np_bernoulli_ll(x, out)
    kl = _np_kl(mu, logvar)
    np.testing.assert_allclose(aux["reconstruction"], rec.mean(), rtol=1e-5)
    np.testing.assert_allclose(aux["kl"], kl.sum(-1).mean(), rtol=1e-5)
    np.testing.assert_allclose(aux["kl_per_dim"], kl.mean(0), rtol=1e-5)
    np.testing.assert_allclose(loss, (rec + kl.sum(-1)).mean(), rtol=1e-5)
    np.testing.assert_allclose(aux["elbo"], -loss, rtol=1e-5)


def test_beta_vae_weights_kl(batch):
    x, out, mu, logvar = batch
    _, aux = objectives.elbo(x, out, mu, logvar)
    loss8, aux8 = objectives.beta_vae(x, out, mu, logvar, beta=8.0)
    np.testing.assert_allclose(loss8, aux["reconstruction"] + 8 * aux["kl"], rtol=1e-5)
    loss1, _ = objectives.beta_vae(x, out, mu, logvar, beta=1.0)
    np.testing.assert_allclose(loss1, objectives.elbo(x, out, mu, logvar)[0], rtol=1e-6)


def test_capacity_schedule():
    c = lambda s: float(objectives.capacity(s, c_start=0.0, c_max=25.0, c_steps=100_000))
    assert c(0) == 0.0
    assert c(50_000) == pytest.approx(12.5)
    assert c(100_000) == pytest.approx(25.0)
    assert c(300_000) == pytest.approx(25.0)
    assert float(objectives.capacity(10, c_start=5.0, c_max=5.0, c_steps=100)) == 5.0


def test_annealed_vae_penalises_distance_to_capacity(batch):
    x, out, mu, logvar = batch
    _, aux = objectives.elbo(x, out, mu, logvar)
    for step in (0, 40_000, 100_000):
        loss, a = objectives.annealed_vae(x, out, mu, logvar, step=step, gamma=1000.0, c_max=25.0, c_steps=100_000)
        c = 25.0 * min(step / 100_000, 1.0)
        np.testing.assert_allclose(a["capacity"], c, rtol=1e-6)
        np.testing.assert_allclose(loss, aux["reconstruction"] + 1000.0 * abs(float(aux["kl"]) - c), rtol=1e-5)


def test_objectives_jit_grad_finite(batch):
    x, out, mu, logvar = batch

    def f(out, mu, logvar):
        return objectives.annealed_vae(x, out, mu, logvar, step=jnp.int32(10))[0]

    grads = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(out, mu, 30.0 * jnp.sign(logvar))
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))


def test_shape_mismatch_is_a_clear_error(batch):
    x, out, mu, logvar = batch
    with pytest.raises(ValueError, match="logistic"):
        objectives.elbo(x, out, mu, logvar, likelihood="logistic")
    with pytest.raises(ValueError, match="allowed"):
        objectives.elbo(x, out, mu, logvar, likelihood="poisson")
