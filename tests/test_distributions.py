"""Known-answer tests for disentax.distributions.

References are computed independently in float64 with numpy / scipy.
"""

import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import distributions as D

try:  # scipy is optional; fall back to numpy formulas when absent.
    from scipy import stats as _stats
    from scipy.special import expit as _expit
except ImportError:  # pragma: no cover - depends on the environment
    _stats = None
    _expit = None


def _np_expit(t):
    if _expit is not None:
        return _expit(t)
    t = np.asarray(t, np.float64)
    return np.where(t >= 0, 1.0 / (1.0 + np.exp(-np.abs(t))), np.exp(-np.abs(t)) / (1.0 + np.exp(-np.abs(t))))


def _np_softplus(t):
    return np.logaddexp(0.0, np.asarray(t, np.float64))


def _np_log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    m = logits.max(-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))


def _key(i=0):
    return jax.random.PRNGKey(i)


# Jitted handles on the functions under test.  Eager JAX compiles every
# primitive separately for each new shape, which dominates the runtime of
# these small tests; one compilation per function and shape is much cheaper.
# Eager execution itself is covered by ``test_jit_vmap_grad`` below.
_STATIC = {
    "gumbel_sample": ("shape", "dtype"),
    "discretized_logistic_log_prob": ("num_bins",),
    "discretized_logistic_sample": ("num_bins",),
}
J = SimpleNamespace(**{n: jax.jit(getattr(D, n), static_argnames=_STATIC.get(n, ())) for n in D.__all__})


def _jgrad(fn, argnums=0):
    return jax.jit(jax.grad(fn, argnums=argnums))


# ---------------------------------------------------------------------------
# Gaussian
# ---------------------------------------------------------------------------


def test_gaussian_log_prob_matches_reference_including_extreme_logvar():
    rng = np.random.default_rng(0)
    logvar = np.concatenate([np.array([-30.0, -10.0, 0.0, 10.0, 30.0]), rng.uniform(-5, 5, 20)])
    mu = rng.normal(size=logvar.shape) * 3
    std = np.exp(0.5 * logvar)
    x = mu + std * rng.normal(size=logvar.shape) * 2
    got = np.asarray(J.gaussian_log_prob(x.astype(np.float32), mu.astype(np.float32), logvar.astype(np.float32)))
    # Reference at the float32-rounded inputs, in float64.
    x64, mu64, lv64 = (np.float64(np.float32(a)) for a in (x, mu, logvar))
    if _stats is not None:
        ref = _stats.norm.logpdf(x64, mu64, np.exp(0.5 * lv64))
    else:
        ref = -0.5 * (np.log(2 * np.pi) + lv64 + (x64 - mu64) ** 2 * np.exp(-lv64))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-5)


def test_gaussian_entropy_matches_reference():
    logvar = np.array([-30.0, -2.0, 0.0, 1.5, 30.0])
    ref = 0.5 * (np.log(2 * np.pi) + 1 + logvar)
    if _stats is not None:
        ref = _stats.norm(0.0, np.exp(0.5 * logvar)).entropy()
    np.testing.assert_allclose(np.asarray(J.gaussian_entropy(logvar)), ref, rtol=1e-6, atol=1e-5)


def _np_gauss_kl(mu, lv, pmu, plv):
    mu, lv, pmu, plv = (np.asarray(a, np.float64) for a in (mu, lv, pmu, plv))
    return 0.5 * (plv - lv + (np.exp(lv) + (mu - pmu) ** 2) / np.exp(plv) - 1.0)


@pytest.mark.parametrize(
    "mu,logvar,prior_mu,prior_logvar",
    [
        (0.7, -1.0, 0.0, 0.0),
        (-1.2, 0.8, 0.0, 0.0),
        (0.5, -0.3, 1.5, 0.7),
        (2.0, 1.0, -0.5, -0.4),
    ],
)
def test_gaussian_kl_matches_monte_carlo(mu, logvar, prior_mu, prior_logvar):
    n = 200_000
    z = np.asarray(J.gaussian_sample(_key(1), jnp.full((n,), mu), jnp.full((n,), logvar)), np.float64)

    def logpdf(v, m, lv):
        return -0.5 * (np.log(2 * np.pi) + lv + (v - m) ** 2 * np.exp(-lv))

    log_ratio = logpdf(z, mu, logvar) - logpdf(z, prior_mu, prior_logvar)
    mc = log_ratio.mean()
    se = log_ratio.std() / math.sqrt(n)
    got = float(J.gaussian_kl(mu, logvar, prior_mu, prior_logvar))
    np.testing.assert_allclose(got, _np_gauss_kl(mu, logvar, prior_mu, prior_logvar), rtol=1e-5)
    assert abs(got - mc) < 5 * se + 1e-3


def test_gaussian_kl_zero_nonnegative_and_extreme_range():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=500).astype(np.float32)
    lv = rng.uniform(-30, 30, size=500).astype(np.float32)
    pmu = rng.normal(size=500).astype(np.float32)
    plv = rng.uniform(-5, 5, size=500).astype(np.float32)

    # Equal distributions: exactly zero, including extreme variances.
    same = np.asarray(J.gaussian_kl(mu, lv, mu, lv))
    np.testing.assert_array_equal(same, 0.0)

    # Standard prior over logvar in [-30, 30]: finite and accurate.
    got = np.asarray(J.gaussian_kl(mu, lv))
    ref = _np_gauss_kl(mu, lv, 0.0, 0.0)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-5)

    # Non-standard prior.
    got = np.asarray(J.gaussian_kl(mu, lv, pmu, plv))
    assert np.all(np.isfinite(got)) and np.all(got >= 0.0)
    np.testing.assert_allclose(got, _np_gauss_kl(mu, lv, pmu, plv), rtol=1e-5)

    # Nearly equal variances: full relative precision (the KL is ~d^2/4).
    d = np.array([1e-3, -1e-3, 0.05, -0.09, 0.11, -0.2, 1e-6], np.float32)
    ref = 0.5 * np.expm1(d.astype(np.float64)) - 0.5 * d.astype(np.float64)
    np.testing.assert_allclose(np.asarray(J.gaussian_kl(0.0, d)), ref, rtol=1e-5)

    # Gradients finite at the extremes.
    g = _jgrad(lambda m, l: jnp.sum(J.gaussian_kl(m, l)), argnums=(0, 1))(
        jnp.array([0.0, 3.0]), jnp.array([-30.0, 30.0])
    )
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)


def test_gaussian_sample_moments_and_gradient():
    n = 200_000
    mu, logvar = 1.5, math.log(0.25)
    z = np.asarray(J.gaussian_sample(_key(3), jnp.full((n,), mu), logvar), np.float64)
    assert abs(z.mean() - mu) < 0.01
    assert abs(z.var() - 0.25) < 0.01

    mus = jnp.array([0.0, -2.0, 5.0])
    lvs = jnp.array([0.0, -30.0, 30.0])
    gmu = _jgrad(lambda m: jnp.sum(J.gaussian_sample(_key(4), m, lvs)))(mus)
    np.testing.assert_array_equal(np.asarray(gmu), 1.0)
    glv = _jgrad(lambda l: jnp.sum(J.gaussian_sample(_key(4), mus, l)))(lvs)
    zs = J.gaussian_sample(_key(4), mus, lvs)
    assert np.all(np.isfinite(np.asarray(glv)))
    # d z / d logvar = 1/2 * exp(logvar / 2) * eps = 1/2 * (z - mu)
    np.testing.assert_allclose(np.asarray(glv), 0.5 * np.asarray(zs - mus), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# Bernoulli
# ---------------------------------------------------------------------------


def test_bernoulli_log_prob_normalised_and_stable():
    logits = np.concatenate([np.linspace(-150, 150, 61), [-100.0, 100.0, 0.0, 1e-3]]).astype(np.float32)
    lp1 = np.asarray(J.bernoulli_log_prob(1.0, logits))
    lp0 = np.asarray(J.bernoulli_log_prob(0.0, logits))
    assert np.all(np.isfinite(lp1)) and np.all(np.isfinite(lp0))
    l64 = logits.astype(np.float64)
    np.testing.assert_allclose(lp1, -_np_softplus(-l64), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(lp0, -_np_softplus(l64), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(np.exp(lp1.astype(np.float64)) + np.exp(lp0.astype(np.float64)), 1.0, atol=1e-6)

    # Soft targets: negative binary cross-entropy x*l - softplus(l).
    x = np.float32(0.3)
    np.testing.assert_allclose(
        np.asarray(J.bernoulli_log_prob(x, logits)),
        np.float64(x) * l64 - _np_softplus(l64),
        rtol=1e-5,
        atol=1e-5,
    )


def test_bernoulli_gradient_finite_at_extremes():
    logits = jnp.array([-100.0, -30.0, 0.0, 30.0, 100.0, 1e4, -1e4])
    for x in (0.0, 1.0, 0.3):
        g = np.asarray(_jgrad(lambda l: jnp.sum(J.bernoulli_log_prob(x, l)))(logits))
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, x - _np_expit(np.asarray(logits, np.float64)), atol=1e-6)


def test_bernoulli_sample_frequencies():
    logits = jnp.array([-2.0, 0.0, 1.5])
    s = np.asarray(J.bernoulli_sample(_key(5), jnp.broadcast_to(logits, (50_000, 3))))
    assert set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_allclose(s.mean(0), _np_expit(np.asarray(logits, np.float64)), atol=0.01)


# ---------------------------------------------------------------------------
# Discretised logistic
# ---------------------------------------------------------------------------


def _np_disc_logistic_log_prob(x, loc, log_scale, num_bins=256):
    """float64 reference from the logistic CDF / survival function."""
    x, loc, log_scale = (np.asarray(a, np.float64) for a in (x, loc, log_scale))
    log_scale = np.maximum(log_scale, -7.0)
    s = np.exp(log_scale)
    h = 0.5 / (num_bins - 1)
    lo, hi = (x - h - loc) / s, (x + h - loc) / s
    cdf = _np_expit
    # Subtract survival functions in the upper half to avoid cancellation.
    upper_half = x > loc
    mid = np.where(upper_half, cdf(-lo) - cdf(-hi), cdf(hi) - cdf(lo))
    p = np.where(x < h, cdf(hi), np.where(x > 1 - h, cdf(-lo), mid))
    with np.errstate(divide="ignore"):
        return np.log(p)


GRID = np.arange(256, dtype=np.float32) / 255.0


@pytest.mark.parametrize(
    "loc,log_scale",
    [
        (0.5, -3.0),
        (0.0, -5.0),
        (1.0, -5.0),
        (0.002, -7.0),
        (0.998, -7.0),
        (0.3, -12.0),  # clamped
        (0.6, 0.0),
        (0.5, 4.0),
        (-0.4, -2.0),
        (1.3, 8.0),
    ],
)
def test_discretized_logistic_normalised_and_matches_reference(loc, log_scale):
    lp = np.asarray(J.discretized_logistic_log_prob(GRID, loc, log_scale))
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(), 1.0, atol=1e-4)
    ref = _np_disc_logistic_log_prob(GRID, np.float32(loc), np.float32(log_scale))
    ok = ref > -600.0  # where the float64 reference itself is representable
    np.testing.assert_allclose(lp[ok], ref[ok], rtol=1e-4, atol=2e-4)


def test_discretized_logistic_extreme_parameters_finite():
    loc = np.array([-100.0, 100.0, 0.5, 0.5, 0.0, 1.0, 0.5, 1e4], np.float32)
    log_scale = np.array([-20.0, -20.0, -100.0, 100.0, 50.0, -50.0, 20.0, 0.0], np.float32)
    x = GRID[:, None]
    lp = np.asarray(J.discretized_logistic_log_prob(x, loc, log_scale))
    assert lp.shape == (256, loc.size)
    assert np.all(np.isfinite(lp)) and np.all(lp <= 1e-6)
    # Very wide distributions are (numerically) uniform over interior bins:
    # P = 2h / (4 s) at the centre of a logistic of scale s.
    wide = np.asarray(J.discretized_logistic_log_prob(GRID[1:-1], 0.5, 50.0))
    np.testing.assert_allclose(wide, np.log(1.0 / 255.0) - 50.0 - np.log(4.0), rtol=1e-5)
    # Gradients finite everywhere as well.
    g = _jgrad(lambda l, s: jnp.sum(J.discretized_logistic_log_prob(x, l, s)), argnums=(0, 1))(loc, log_scale)
    assert all(np.all(np.isfinite(np.asarray(a))) for a in g)


def test_discretized_logistic_small_num_bins_and_sampling():
    nb = 8
    grid = np.arange(nb, dtype=np.float32) / (nb - 1)
    loc, log_scale = 0.35, math.log(0.15)
    probs = np.exp(np.asarray(J.discretized_logistic_log_prob(grid, loc, log_scale, num_bins=nb), np.float64))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
    ref = np.exp(_np_disc_logistic_log_prob(grid, loc, log_scale, num_bins=nb))
    np.testing.assert_allclose(probs, ref, rtol=1e-4, atol=1e-7)

    s = np.asarray(J.discretized_logistic_sample(_key(6), jnp.full((100_000,), loc), log_scale, num_bins=nb))
    assert s.min() >= 0.0 and s.max() <= 1.0
    idx = np.rint(s * (nb - 1)).astype(int)
    np.testing.assert_allclose(s, idx / (nb - 1), atol=1e-6)  # on the grid
    freq = np.bincount(idx, minlength=nb) / s.size
    np.testing.assert_allclose(freq, probs, atol=0.006)


# ---------------------------------------------------------------------------
# Gumbel / Concrete / categorical
# ---------------------------------------------------------------------------


def test_gumbel_sample_moments():
    g = np.asarray(J.gumbel_sample(_key(7), (200_000,)), np.float64)
    assert abs(g.mean() - np.euler_gamma) < 0.01
    assert abs(g.var() - np.pi**2 / 6) < 0.03


def _np_binary_concrete_pdf(x, logits, tau):
    alpha = np.exp(logits[0] - logits[1])
    num = tau * alpha * x ** (-tau - 1) * (1 - x) ** (-tau - 1)
    den = (alpha * x ** (-tau) + (1 - x) ** (-tau)) ** 2
    return num / den


@pytest.mark.parametrize("logits,tau", [((0.0, 0.0), 1.0), ((2.0, -1.0), 0.5), ((-0.5, 1.0), 2.0), ((1.0, 0.0), 0.2)])
def test_concrete_k2_integrates_to_one_and_matches_binary_concrete(logits, tau):
    logits_j = jnp.asarray(logits, jnp.float32)
    # Integrate in logit space t = logit(y_1): dy_1 = y_1 y_2 dt, which makes
    # the integrand a smooth logistic density (no endpoint singularities).
    t = np.linspace(-400.0, 400.0, 80_001)
    log_y = np.stack([-_np_softplus(-t), -_np_softplus(t)], -1).astype(np.float32)
    lp = np.asarray(J.concrete_log_prob_from_log(log_y, logits_j, tau), np.float64)
    integrand = np.exp(lp + log_y.astype(np.float64).sum(-1))
    total = np.sum(integrand) * (t[1] - t[0])
    np.testing.assert_allclose(total, 1.0, atol=2e-4)

    # Pointwise against the closed-form binary Concrete density.
    y1 = np.linspace(0.01, 0.99, 99)
    y = np.stack([y1, 1 - y1], -1).astype(np.float32)
    got = np.asarray(J.concrete_log_prob(y, logits_j, tau))
    ref = np.log(_np_binary_concrete_pdf(y[:, 0].astype(np.float64), np.asarray(logits), tau))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_concrete_k3_integrates_to_one():
    # y = softmax(t_1, t_2, 0); the Jacobian of (t_1, t_2) -> (y_1, y_2) is y_1 y_2 y_3.
    tau = 0.7
    logits = jnp.array([0.5, -1.0, 0.2])
    t = np.linspace(-60.0, 60.0, 601)
    t1, t2 = np.meshgrid(t, t, indexing="ij")
    full = np.stack([t1, t2, np.zeros_like(t1)], -1)
    log_y = _np_log_softmax(full).astype(np.float32)
    lp = np.asarray(J.concrete_log_prob_from_log(log_y, logits, tau), np.float64)
    total = np.exp(lp + log_y.astype(np.float64).sum(-1)).sum() * (t[1] - t[0]) ** 2
    np.testing.assert_allclose(total, 1.0, atol=2e-3)


def test_concrete_samples_on_simplex_and_log_consistent():
    logits = jnp.array([1.0, -0.5, 0.3, 2.0])
    y = np.asarray(J.concrete_sample(_key(8), jnp.broadcast_to(logits, (1000, 4)), 0.7))
    log_y = np.asarray(J.concrete_sample_log(_key(8), jnp.broadcast_to(logits, (1000, 4)), 0.7))
    assert np.all(y >= 0.0)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.exp(log_y), y, rtol=1e-5, atol=1e-7)
    # The two density entry points agree.
    np.testing.assert_allclose(
        np.asarray(J.concrete_log_prob(y, logits, 0.7)),
        np.asarray(J.concrete_log_prob_from_log(log_y, logits, 0.7)),
        rtol=1e-4,
        atol=1e-3,
    )


def test_concrete_low_temperature_approaches_categorical():
    logits = jnp.array([1.0, -0.5, 0.3, 0.0])
    n = 40_000
    y = np.asarray(J.concrete_sample(_key(9), jnp.broadcast_to(logits, (n, 4)), 0.005))
    assert np.mean(y.max(-1) > 0.99) > 0.95
    freq = np.bincount(y.argmax(-1), minlength=4) / n
    np.testing.assert_allclose(freq, np.exp(_np_log_softmax(np.asarray(logits))), atol=0.012)


def test_concrete_log_prob_finite_for_extreme_logits():
    logits = jnp.array([[100.0, -100.0, 0.0], [-100.0, -100.0, 100.0], [0.0, 0.0, 0.0]])
    for tau in (0.1, 0.5, 2.0):
        log_y = J.concrete_sample_log(_key(10), logits, tau)
        assert np.all(np.isfinite(np.asarray(log_y)))
        lp = np.asarray(J.concrete_log_prob_from_log(log_y, logits, tau))
        assert np.all(np.isfinite(lp))
        g = _jgrad(lambda l: jnp.sum(J.concrete_log_prob_from_log(log_y, l, tau)))(logits)
        assert np.all(np.isfinite(np.asarray(g)))


def test_categorical_kl_entropy_log_prob():
    rng = np.random.default_rng(11)
    lq = rng.normal(size=(50, 6)).astype(np.float32) * 3
    lp = rng.normal(size=(50, 6)).astype(np.float32) * 3
    log_q, log_p = _np_log_softmax(lq), _np_log_softmax(lp)
    ref_kl = np.sum(np.exp(log_q) * (log_q - log_p), -1)
    np.testing.assert_allclose(np.asarray(J.categorical_kl(lq, lp)), ref_kl, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(J.categorical_kl(lq, lq)), 0.0, atol=1e-6)
    assert np.all(np.asarray(J.categorical_kl(lq, lp)) >= -1e-6)

    ref_h = -np.sum(np.exp(log_q) * log_q, -1)
    np.testing.assert_allclose(np.asarray(J.categorical_entropy(lq)), ref_h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(J.categorical_entropy(jnp.zeros(6))), np.log(6.0), rtol=1e-6)

    idx = rng.integers(0, 6, size=50)
    ref_lp = log_q[np.arange(50), idx]
    np.testing.assert_allclose(np.asarray(J.categorical_log_prob(idx, lq)), ref_lp, rtol=1e-5, atol=1e-5)
    onehot = np.eye(6, dtype=np.float32)[idx]
    np.testing.assert_allclose(np.asarray(J.categorical_log_prob(onehot, lq)), ref_lp, rtol=1e-5, atol=1e-5)

    # Extreme logits: finite values and gradients.
    ext_q = jnp.array([100.0, -100.0, 0.0])
    ext_p = jnp.array([-100.0, 100.0, 0.0])
    kl = float(J.categorical_kl(ext_q, ext_p))
    assert np.isfinite(kl) and abs(kl - 200.0) < 1e-3
    g = _jgrad(lambda a, b: J.categorical_kl(a, b), argnums=(0, 1))(ext_q, ext_p)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)


def test_categorical_sample_frequencies():
    logits = jnp.array([0.5, -1.0, 1.2])
    s = np.asarray(J.categorical_sample(_key(12), jnp.broadcast_to(logits, (40_000, 3))))
    freq = np.bincount(s, minlength=3) / s.size
    np.testing.assert_allclose(freq, np.exp(_np_log_softmax(np.asarray(logits))), atol=0.012)


# ---------------------------------------------------------------------------
# Transformations: jit, vmap, grad
# ---------------------------------------------------------------------------

_B, _K = 4, 3
_x = jnp.linspace(0.0, 1.0, _B * _K).reshape(_B, _K)
_a = jnp.linspace(-1.0, 1.0, _B * _K).reshape(_B, _K)
_b = jnp.linspace(-2.0, 0.5, _B * _K).reshape(_B, _K)
_grid_x = jnp.round(_x * 255.0) / 255.0
_simplex = jax.nn.softmax(_b, axis=-1)
_idx = jnp.array([0, 2, 1, 2])
_KEY = jax.random.PRNGKey(13)

# (name, function, positional args; all floating-point args are differentiated)
_CASES = [
    ("gaussian_log_prob", D.gaussian_log_prob, (_x, _a, _b)),
    ("gaussian_kl", D.gaussian_kl, (_a, _b, _x, _a)),
    ("gaussian_entropy", D.gaussian_entropy, (_b,)),
    ("gaussian_sample", lambda m, l: D.gaussian_sample(_KEY, m, l), (_a, _b)),
    ("bernoulli_log_prob", D.bernoulli_log_prob, (_x, 50.0 * _a)),
    ("disc_logistic_log_prob", D.discretized_logistic_log_prob, (_grid_x, _x, _b)),
    ("concrete_sample", lambda l: D.concrete_sample(_KEY, l, 0.5), (_a,)),
    ("concrete_sample_log", lambda l: D.concrete_sample_log(_KEY, l, 0.5), (_a,)),
    ("concrete_log_prob", lambda y, l: D.concrete_log_prob(y, l, 0.5), (_simplex, _a)),
    ("concrete_log_prob_from_log", lambda y, l: D.concrete_log_prob_from_log(y, l, 0.5), (jnp.log(_simplex), _a)),
    ("categorical_log_prob_index", lambda l, i: D.categorical_log_prob(i, l), (_a, _idx)),
    ("categorical_log_prob_onehot", lambda l, y: D.categorical_log_prob(y, l), (_a, _simplex)),
    ("categorical_kl", D.categorical_kl, (_a, _b)),
    ("categorical_entropy", D.categorical_entropy, (_a,)),
]


@pytest.mark.parametrize("name,fn,args", _CASES, ids=[c[0] for c in _CASES])
def test_jit_vmap_grad(name, fn, args):
    eager = np.asarray(fn(*args))
    np.testing.assert_allclose(np.asarray(jax.jit(fn)(*args)), eager, rtol=1e-5, atol=1e-6)
    if "sample" not in name:  # per-row noise would differ for random functions
        vm = np.asarray(jax.jit(jax.vmap(fn))(*args))
        np.testing.assert_allclose(vm, eager, rtol=1e-5, atol=1e-6)
    argnums = tuple(i for i, a in enumerate(args) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating))
    grads = jax.jit(jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=argnums))(*args)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))


def test_random_functions_under_vmap_over_keys():
    keys = jax.random.split(_KEY, 5)
    z = jax.jit(jax.vmap(lambda k: D.gaussian_sample(k, _a, _b)))(keys)
    assert z.shape == (5, _B, _K)
    assert not np.allclose(np.asarray(z[0]), np.asarray(z[1]))
    y = jax.jit(jax.vmap(lambda k: D.concrete_sample(k, _a, 0.5)))(keys)
    np.testing.assert_allclose(np.asarray(y.sum(-1)), 1.0, atol=1e-5)
    s = jax.jit(jax.vmap(lambda k: D.discretized_logistic_sample(k, _x, _b)))(keys)
    np.testing.assert_allclose(np.asarray(s) * 255.0, np.round(np.asarray(s) * 255.0), atol=1e-4)
    bs = jax.jit(jax.vmap(lambda k: D.bernoulli_sample(k, _a)))(keys)
    assert set(np.unique(np.asarray(bs))) <= {0.0, 1.0}
