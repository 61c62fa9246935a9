"""Estimators of log q(z) and the decompositions, against float64 brute force and exact mixtures."""
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import gammaln, logsumexp

from disentax import estimators as est

LOG2PI = math.log(2 * math.pi)


# ----------------------------------------------------------------------------- references


def ref_pairwise(z, mu, logvar):
    B, D = z.shape
    out = np.zeros((B, B, D))
    for i in range(B):
        for j in range(B):
            for d in range(D):
                var = math.exp(logvar[j, d])
                out[i, j, d] = -0.5 * (LOG2PI + logvar[j, d] + (z[i, d] - mu[j, d]) ** 2 / var)
    return out


def ref_weights(B, N, estimator):
    """W written out entry by entry from the formulas of the issue / Esmaeili et al. (2019),
    Sec. 3.1."""
    W = np.zeros((B, B))
    for i in range(B):
        for j in range(B):
            if estimator == "mws":
                W[i, j] = 1.0 / (N * B)
            elif estimator == "exact":
                W[i, j] = 1.0 / N
            elif estimator == "hfvae":
                W[i, j] = 1.0 / N if i == j else (N - 1) / (N * (B - 1))
            elif estimator == "mss":
                if j == i:
                    W[i, j] = 1.0 / N
                elif j == (i + 1) % B:
                    W[i, j] = (N - B + 1) / (N * (B - 1))
                else:
                    W[i, j] = 1.0 / (B - 1)
    return W


def ref_log_qz(z, mu, logvar, N, estimator):
    P = ref_pairwise(z, mu, logvar)
    logW = np.log(ref_weights(z.shape[0], N, estimator))
    B, D = z.shape
    joint = np.array([logsumexp([logW[i, j] + P[i, j].sum() for j in range(B)]) for i in range(B)])
    per_dim = np.array([[logsumexp([logW[i, j] + P[i, j, d] for j in range(B)]) for d in range(D)] for i in range(B)])
    return joint, per_dim


def extreme_inputs(seed=0, B=6, D=3):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(B, D)) * 2
    logvar = rng.uniform(-3, 3, size=(B, D))
    logvar[0, 0], logvar[1, 1], logvar[2, 2] = -20.0, 20.0, -19.5
    logvar[3, 0], logvar[4, 1] = 19.5, -20.0
    z = mu + np.exp(0.5 * logvar) * rng.normal(size=(B, D))
    z[5] = rng.normal(size=D) * 3  # a point far from some tight posteriors
    return z, mu, logvar


# ----------------------------------------------------------------------------- pairwise densities


def test_pairwise_gaussian_matches_loop_including_extreme_logvars():
    z, mu, logvar = extreme_inputs()
    got = np.asarray(est.pairwise_gaussian_log_density(jnp.float32(z), jnp.float32(mu), jnp.float32(logvar)), np.float64)
    ref = ref_pairwise(z.astype(np.float32).astype(np.float64), mu.astype(np.float32).astype(np.float64),
                       logvar.astype(np.float32).astype(np.float64))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-4)


def test_pairwise_concrete_matches_loop():
    rng = np.random.default_rng(1)
    B, K, tau = 4, 3, 0.66
    logits = rng.normal(size=(B, K)) * 3
    logits[0] = [25.0, -25.0, 0.0]
    g = rng.gumbel(size=(B, K))
    a = (logits + g) / tau
    log_y = a - logsumexp(a, axis=1, keepdims=True)
    got = np.asarray(est.pairwise_concrete_log_density(jnp.float32(log_y), jnp.float32(logits), tau), np.float64)
    ref = np.zeros((B, B))
    for i in range(B):
        for j in range(B):
            ly, lg = log_y[i], logits[j]
            ref[i, j] = (gammaln(K) + (K - 1) * math.log(tau) + np.sum(lg - (tau + 1) * ly)
                         - K * logsumexp(lg - tau * ly))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-3)


# ----------------------------------------------------------------------------- weights


@pytest.mark.parametrize("B,N", [(2, 2), (2, 10), (5, 5), (7, 1000), (64, 737_280)])
@pytest.mark.parametrize("estimator", ["mss", "hfvae"])
def test_weight_rows_sum_to_one_with_1_over_N_on_the_diagonal(B, N, estimator):
    W = np.exp(np.asarray(est.log_importance_weights(B, N, estimator), np.float64))
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.diag(W), 1.0 / N, rtol=1e-5)
    np.testing.assert_allclose(W, ref_weights(B, N, estimator), rtol=1e-5)


def test_mss_weights_are_on_the_diagonal_not_column_zero():
    B, N = 6, 100
    W = np.exp(np.asarray(est.log_importance_weights(B, N, "mss"), np.float64))
    for i in range(1, B):
        assert not np.isclose(W[i, 0], 1.0 / N)  # 1/N = 0.01 here; column 0 holds 0.2 or 0.19
        assert np.isclose(W[i, (i + 1) % B], (N - B + 1) / (N * (B - 1)))
    assert np.isclose(W[B - 1, 0], (N - B + 1) / (N * (B - 1)))  # the wrap-around stratum entry


def test_mws_and_exact_weights():
    np.testing.assert_allclose(np.asarray(est.log_importance_weights(4, 50, "mws")), -math.log(200), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(est.log_importance_weights(5, 5, "exact")), -math.log(5), rtol=1e-6)


@pytest.mark.parametrize(
    "B,N,estimator,fragment",
    [(4, 5, "exact", "whole dataset"), (1, 5, "mss", "at least 2"), (6, 5, "mws", "dataset_size"), (4, 5, "foo", "allowed")],
)
def test_bad_sizes_raise_one_line_errors(B, N, estimator, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        est.log_importance_weights(B, N, estimator)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- log q(z)


@pytest.mark.parametrize("estimator,N", [("mws", 1000), ("mss", 1000), ("hfvae", 1000), ("exact", 6)])
def test_log_qz_matches_brute_force(estimator, N):
    z, mu, logvar = extreme_inputs(seed=3)
    zf, muf, lvf = (np.asarray(a, np.float32) for a in (z, mu, logvar))
    joint, prod = est.log_qz(zf, muf, lvf, N, estimator)
    _, per_dim = est.log_qz_marginals(zf, muf, lvf, N, estimator)
    rj, rd = ref_log_qz(*(a.astype(np.float64) for a in (zf, muf, lvf)), N, estimator)
    assert np.all(np.isfinite(np.asarray(joint))) and np.all(np.isfinite(np.asarray(per_dim)))
    np.testing.assert_allclose(np.asarray(joint), rj, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(np.asarray(per_dim), rd, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(np.asarray(prod), rd.sum(1), rtol=1e-5, atol=1e-3)


def stored_marginals(z, mu, logvar, N, estimator):
    """The estimators as first written: the [B, B, D] pairwise array stored, max-stabilised
    logsumexps, gradients by autodiff. The fast path must give the same numbers."""
    pairs = est.pairwise_gaussian_log_density(z, mu, logvar)
    log_w = est.log_importance_weights(z.shape[0], N, estimator, pairs.dtype)
    return (jax.scipy.special.logsumexp(log_w + pairs.sum(-1), axis=1),
            jax.scipy.special.logsumexp(log_w[..., None] + pairs, axis=1))


def _latents(B, D, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(B, D)) * 2
    logvar = rng.uniform(-3, 3, size=(B, D)) * spread
    return mu + np.exp(0.5 * logvar) * rng.normal(size=(B, D)), mu, logvar


# Every size for mws; the weight matrices of mss and hfvae only change log W, so their edge cases are
# the smallest batch they allow and a large one (each case runs op by op in float64: ~10 s).
@pytest.mark.parametrize("estimator,B,D", [("mws", 1, 1), ("mws", 2, 3), ("mws", 7, 1), ("mws", 17, 5),
                                           ("mws", 64, 10), ("mss", 2, 3), ("mss", 17, 5), ("mss", 64, 10),
                                           ("hfvae", 2, 3), ("hfvae", 7, 1), ("hfvae", 64, 10)])
def test_fast_marginals_and_gradients_equal_the_stored_form_in_float64(estimator, B, D):
    N = 1000
    with jax.enable_x64(True):
        cases = [_latents(B, D, seed=B + D), extreme_inputs(seed=B, B=B, D=D) if B >= 6 and D >= 3 else None]
        for case in [c for c in cases if c is not None]:
            z, mu, logvar = (jnp.asarray(a, jnp.float64) for a in case)
            rng = np.random.default_rng(1)
            gj, gd = jnp.asarray(rng.normal(size=B)), jnp.asarray(rng.normal(size=(B, D)))

            def scalar(f):
                return lambda *a: jnp.sum(gj * f(*a, N, estimator)[0]) + jnp.sum(gd * f(*a, N, estimator)[1])

            fast, ref = est.log_qz_marginals(z, mu, logvar, N, estimator), stored_marginals(z, mu, logvar, N, estimator)
            assert fast[0].dtype == jnp.float64 and fast[1].dtype == jnp.float64
            np.testing.assert_allclose(fast[0], ref[0], rtol=1e-12, atol=1e-10)
            np.testing.assert_allclose(fast[1], ref[1], rtol=1e-12, atol=1e-10)
            g_fast = jax.grad(scalar(est.log_qz_marginals), argnums=(0, 1, 2))(z, mu, logvar)
            g_ref = jax.grad(scalar(stored_marginals), argnums=(0, 1, 2))(z, mu, logvar)
            for a, b in zip(g_fast, g_ref):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_fast_marginals_fall_back_to_the_max_form_where_the_bound_would_underflow():
    # Tight posteriors and a sample far from all of them: every term of that row is ~ -1e12 below
    # the bound, so the bounded sum is 0 and the exact, max-stabilised form must take over.
    z, mu, logvar = (np.asarray(a, np.float32) for a in _latents(5, 2, seed=4))
    logvar[:] = -20.0
    z[2] = 100.0
    joint, per_dim = est.log_qz_marginals(z, mu, logvar, 100, "hfvae")
    rj, rd = ref_log_qz(*(a.astype(np.float64) for a in (z, mu, logvar)), 100, "hfvae")
    assert np.all(np.isfinite(np.asarray(per_dim))) and np.asarray(per_dim)[2].max() < -1e9
    np.testing.assert_allclose(np.asarray(per_dim), rd, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(joint), rj, rtol=1e-5)
    g = jax.grad(lambda m: est.log_qz_marginals(z, m, logvar, 100, "hfvae")[1].sum())(jnp.asarray(mu))
    assert np.all(np.isfinite(np.asarray(g)))


def test_log_qz_keeps_float64_under_x64():
    # The weights' constants (−log(N·B) with N = 737,280) must not pass through float32.
    z, mu, logvar = _latents(6, 3, seed=8)
    with jax.enable_x64(True):
        for estimator in ("mws", "mss", "hfvae"):
            joint, per_dim = est.log_qz_marginals(jnp.asarray(z), jnp.asarray(mu), jnp.asarray(logvar), 737_280,
                                                  estimator)
            rj, rd = ref_log_qz(z, mu, logvar, 737_280, estimator)
            assert joint.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(joint), rj, rtol=1e-13, atol=1e-12)
            np.testing.assert_allclose(np.asarray(per_dim), rd, rtol=1e-13, atol=1e-12)


def synthetic(N=6, D=2, seed=0, spread=1.0):
    """A small dataset: one posterior N(mu_n, exp(logvar_n)) and one sample z_n per point."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(N, D)) * spread
    logvar = rng.uniform(-1.0, 0.5, size=(N, D))
    z = mu + np.exp(0.5 * logvar) * rng.normal(size=(N, D))
    return z.astype(np.float32), mu.astype(np.float32), logvar.astype(np.float32)


def test_hfvae_equals_exact_when_the_batch_is_the_dataset():
    for N in (2, 7):
        z, mu, logvar = synthetic(N)
        both = jax.jit(lambda z, m, l: (est.log_qz_marginals(z, m, l, N, "exact"), est.log_qz_marginals(z, m, l, N, "hfvae")))
        ex, hf = both(z, mu, logvar)
        for a, b in zip(ex, hf):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-5)


def test_mss_equals_exact_only_where_its_weights_reduce_to_1_over_N():
    # B = N = 2: W = [[1/2, 1/2], [1/2, 1/2]], the exact mixture.
    z, mu, logvar = synthetic(2)
    for a, b in zip(est.log_qz_marginals(z, mu, logvar, 2, "exact"), est.log_qz_marginals(z, mu, logvar, 2, "mss")):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-5)
    # B = N > 2: the (i, i+1) stratum weight becomes 1/(N(N-1)) and the rest 1/(N-1): not the mixture.
    z, mu, logvar = synthetic(5)
    ex, ms = est.log_qz(z, mu, logvar, 5, "exact")[0], est.log_qz(z, mu, logvar, 5, "mss")[0]
    assert np.max(np.abs(np.asarray(ex) - np.asarray(ms))) > 1e-3


def test_mws_at_batch_equal_dataset_is_exact_minus_log_N():
    N, D = 5, 2
    z, mu, logvar = synthetic(N, D)
    ex_j, ex_d = est.log_qz_marginals(z, mu, logvar, N, "exact")
    mw_j, mw_d = est.log_qz_marginals(z, mu, logvar, N, "mws")
    np.testing.assert_allclose(np.asarray(mw_j), np.asarray(ex_j) - math.log(N), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(np.asarray(mw_d), np.asarray(ex_d) - math.log(N), rtol=1e-6, atol=1e-5)
    tc_ex = est.decompose(z, mu, logvar, N, "exact")["total_correlation"]
    tc_mw = est.decompose(z, mu, logvar, N, "mws")["total_correlation"]
    np.testing.assert_allclose(float(tc_mw), float(tc_ex) + (D - 1) * math.log(N), rtol=1e-5)


def all_batches_containing(i, N, B):
    """Every ordered batch of B distinct indices with i in it: each equally likely under uniform sampling."""
    others = [n for n in range(N) if n != i]
    for rest in itertools.permutations(others, B - 1):
        for pos in range(B):
            batch = list(rest[:pos]) + [i] + list(rest[pos:])
            yield pos, batch


@pytest.mark.parametrize("estimator", ["mss", "hfvae", "mws"])
def test_density_estimates_average_to_the_mixture_over_all_minibatches(estimator):
    """E_batch[q̂(z_i)] by full enumeration: q(z_i) for mss and hfvae (unbiased at the density level);
    for mws (1/(NB))·[q(z_i|x_i) + (B − 1)·mean_{n≠i} q(z_i|x_n)]."""
    N, B, D = 6, 3, 2
    z, mu, logvar = synthetic(N, D, seed=4, spread=0.7)
    exact_j, exact_d = (np.asarray(a, np.float64) for a in est.log_qz_marginals(z, mu, logvar, N, "exact"))
    P = ref_pairwise(*(a.astype(np.float64) for a in (z, mu, logvar)))
    f = jax.jit(jax.vmap(lambda zz, mm, ll: est.log_qz_marginals(zz, mm, ll, N, estimator)))
    for i in range(N):
        rows, batches = zip(*all_batches_containing(i, N, B))
        idx = np.asarray(batches)
        lj, ld = f(z[idx], mu[idx], logvar[idx])
        rows = np.asarray(rows)
        mean_j = np.exp(np.asarray(lj, np.float64)[np.arange(len(rows)), rows]).mean()
        mean_d = np.exp(np.asarray(ld, np.float64)[np.arange(len(rows)), rows]).mean(0)
        if estimator == "mws":
            others = [n for n in range(N) if n != i]
            want_j = (np.exp(P[i, i].sum()) + (B - 1) * np.exp(P[i, others].sum(-1)).mean()) / (N * B)
            want_d = (np.exp(P[i, i]) + (B - 1) * np.exp(P[i, others]).mean(0)) / (N * B)
        else:
            want_j, want_d = np.exp(exact_j[i]), np.exp(exact_d[i])
        np.testing.assert_allclose(mean_j, want_j, rtol=2e-5)
        np.testing.assert_allclose(mean_d, want_d, rtol=2e-5)


def test_hfvae_decomposition_over_random_minibatches_converges_to_exact():
    """Mean over random minibatches of the hfvae estimates of E[log q(z)] and E[Σ_d log q(z_d)] vs the exact
    mixture. log q̂ is unbiased only in density, so by Jensen E[log q̂] ≈ log q − Var(q̂)/(2q²) (delta method);
    Var(q̂) is known in closed form for sampling B − 1 others without replacement. Tolerance: 4 standard
    errors of the batch mean plus half the predicted bias (the neglected higher-order terms)."""
    N, B, D, M = 60, 20, 3, 400
    z, mu, logvar = synthetic(N, D, seed=7, spread=0.8)
    ex_j, ex_d = (np.asarray(a, np.float64) for a in est.log_qz_marginals(z, mu, logvar, N, "exact"))
    P = ref_pairwise(*(a.astype(np.float64) for a in (z, mu, logvar)))

    def predicted_bias(values, q):
        # hfvae: q̂ = v_i/N + ((N−1)/N)·mean of B−1 of the other N−1 values, without replacement.
        s2 = values.var()
        var = ((N - 1) / N) ** 2 * s2 / (B - 1) * (N - B) / (N - 2)
        return -var / (2 * q * q)

    bias_j = np.array([predicted_bias(np.exp(np.delete(P[i].sum(-1), i)), np.exp(ex_j[i])) for i in range(N)])
    bias_d = np.array([[predicted_bias(np.exp(np.delete(P[i, :, d], i)), np.exp(ex_d[i, d])) for d in range(D)]
                       for i in range(N)])

    key = jax.random.PRNGKey(0)
    idx = np.asarray(jax.vmap(lambda k: jax.random.permutation(k, N)[:B])(jax.random.split(key, M)))
    lj, ld = jax.jit(jax.vmap(lambda zz, mm, ll: est.log_qz_marginals(zz, mm, ll, N, "hfvae")))(z[idx], mu[idx], logvar[idx])
    err_j = np.asarray(lj, np.float64) - ex_j[idx]  # [M, B]: estimate − exact at each member
    err_d = np.asarray(ld, np.float64).sum(-1) - ex_d.sum(-1)[idx]
    for err, bias in ((err_j, bias_j), (err_d, bias_d.sum(-1))):
        per_batch = err.mean(1)
        se = per_batch.std(ddof=1) / math.sqrt(M)
        predicted = bias[idx].mean()
        assert abs(per_batch.mean() - predicted) < 4 * se + 0.5 * abs(predicted), (per_batch.mean(), predicted, se)
        assert abs(predicted) < 0.5  # the setting is one where the estimator is meant to be accurate


# ----------------------------------------------------------------------------- decomposition


@pytest.mark.parametrize("estimator,N", [("mws", 100), ("mss", 100), ("hfvae", 100), ("exact", 6)])
def test_decomposition_terms_sum_to_the_sampled_kl(estimator, N):
    z, mu, logvar = extreme_inputs(seed=5)
    t = est.decompose(np.float32(z), np.float32(mu), np.float32(logvar), N, estimator)
    total = float(t["mutual_info"] + t["total_correlation"] + t["dimwise_kl"])
    np.testing.assert_allclose(total, float(t["kl_sample"]), rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(np.asarray(t["dimwise_kl_per_dim"]).sum(), float(t["dimwise_kl"]), rtol=1e-6)


@pytest.mark.parametrize("estimator,N", [("hfvae", 100), ("mss", 737_280), ("exact", 6)])
def test_decomposition_estimate_and_its_standard_errors_match_per_point_loops(estimator, N):
    z, mu, logvar = extreme_inputs(seed=3)
    joint, per_dim = ref_log_qz(z, mu, logvar, N, estimator)
    B, D = z.shape
    log_cond = np.array([sum(-0.5 * (LOG2PI + logvar[i, d] + (z[i, d] - mu[i, d]) ** 2 / math.exp(logvar[i, d]))
                             for d in range(D)) for i in range(B)])
    log_prior = np.array([[-0.5 * (LOG2PI + z[i, d] ** 2) for d in range(D)] for i in range(B)])
    per_point = {"mutual_info": log_cond - joint, "total_correlation": joint - per_dim.sum(1),
                 "dimwise_kl": (per_dim - log_prior).sum(1)}
    with jax.enable_x64(True):
        out = est.decomposition_estimate(jnp.asarray(z), jnp.asarray(mu), jnp.asarray(logvar), N, estimator)
        for name, t in per_point.items():
            mean = sum(t) / B
            se = math.sqrt(sum((v - mean) ** 2 for v in t) / (B - 1) / B)
            assert float(out[name]) == pytest.approx(mean, rel=1e-11, abs=1e-9), name
            assert float(out[f"{name}_se"]) == pytest.approx(se, rel=1e-10), name
    # float32 and under jit: the same numbers to float32 precision, no gradient.
    out32 = jax.jit(lambda a, b, c: est.decomposition_estimate(a, b, c, N, estimator))(
        *(np.float32(a) for a in (z, mu, logvar)))
    for name, t in per_point.items():
        np.testing.assert_allclose(float(out32[name]), t.mean(), rtol=1e-4, atol=1e-3)
    g = jax.grad(lambda m: est.decomposition_estimate(np.float32(z), m, np.float32(logvar), N, estimator)
                 ["total_correlation"])(np.float32(mu))
    assert not np.any(np.asarray(g))  # a logged estimate: stop_gradient


def test_a_batch_sized_pool_reads_the_total_correlation_negative_and_a_large_pool_does_not():
    """Why the loop logs the decomposition of a pool larger than the batch (the "negative TC" of logs).

    Posteriors of N = 2,048 points with independent means in 4 dimensions (σ = 0.3): the exact
    mixture's TC and dimension-wise KL are small and positive. Pools of 64 read both below zero,
    beyond the standard error logged next to them (Jensen: log q̂ is the log of a mean over the pool,
    and the 4-d joint mixture is underestimated far more than each 1-d marginal); a pool of 1,024
    reads both within a few hundredths of the exact values, and positive.
    """
    N, D, sd = 2048, 4, 0.3
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(N, D)).astype(np.float32)
    logvar = np.full((N, D), 2 * math.log(sd), np.float32)
    z = (mu + sd * rng.normal(size=(N, D))).astype(np.float32)
    exact = est.decomposition_estimate(z, mu, logvar, N, "exact")
    tc, dkl = float(exact["total_correlation"]), float(exact["dimwise_kl"])
    assert 0.05 < tc < 0.3 and 0 < dkl < 0.05, exact

    def pooled(M, draws):
        idx = np.stack([rng.permutation(N)[:M] for _ in range(draws)])
        f = jax.jit(jax.vmap(lambda a, b, c: est.decomposition_estimate(a, b, c, N, "hfvae")))
        return {k: np.asarray(v) for k, v in f(z[idx], mu[idx], logvar[idx]).items()}

    small = pooled(64, 16)
    assert small["total_correlation"].mean() < min(0.0, tc - 2 * small["total_correlation_se"].mean()), small
    assert small["dimwise_kl"].mean() < 0, small
    large = pooled(1024, 2)
    assert np.all((large["total_correlation"] > 0) & (np.abs(large["total_correlation"] - tc) < 0.08)), (large, tc)
    assert np.all((large["dimwise_kl"] > 0) & (np.abs(large["dimwise_kl"] - dkl) < 0.02)), (large, dkl)


def test_exact_decomposition_averages_to_the_closed_form_kl():
    """With "exact", MI + TC + dimwise KL = mean_n[log q(z_n|x_n) − log p(z_n)] on every draw; averaged over
    K independent draws of all z_n it converges to the closed-form mean KL (within 4 standard errors)."""
    N, D, K = 8, 3, 2000
    _, mu, logvar = synthetic(N, D, seed=2)
    eps = jax.random.normal(jax.random.PRNGKey(1), (K, N, D))
    zs = mu + jnp.exp(0.5 * logvar) * eps
    terms = jax.jit(jax.vmap(lambda zz: est.decompose(zz, mu, logvar, N, "exact")))(zs)
    total = np.asarray(terms["mutual_info"] + terms["total_correlation"] + terms["dimwise_kl"], np.float64)
    np.testing.assert_allclose(total, np.asarray(terms["kl_sample"]), rtol=1e-4, atol=1e-4)
    kl = float(terms["kl"][0])
    assert abs(total.mean() - kl) < 4 * total.std(ddof=1) / math.sqrt(K)
    # I(x; z) of an N-point mixture lies in [0, log N]: check the exact estimate respects it on average.
    mi = np.asarray(terms["mutual_info"]).mean()
    assert 0 <= mi <= math.log(N)


def test_gradients_are_finite_under_jit_and_vmap():
    z, mu, logvar = (np.float32(a) for a in extreme_inputs(seed=9))

    def loss(mu, logvar, estimator):
        t = est.decompose(mu + 0.0 * z + jnp.exp(0.5 * logvar) * 0.3, mu, logvar, 50, estimator)
        return t["mutual_info"] + 3.0 * t["total_correlation"] + t["dimwise_kl"]

    @jax.jit
    def all_grads(mu, logvar):
        out = []
        for estimator in ("mws", "mss", "hfvae"):
            out.append(jax.grad(loss, argnums=(0, 1))(mu, logvar, estimator))
            out.append(jax.vmap(jax.grad(loss, argnums=(0, 1)), in_axes=(0, 0, None))(
                jnp.stack([mu, mu * 0.5]), jnp.stack([logvar, logvar * 0.5]), estimator))
        return out

    assert all(np.all(np.isfinite(np.asarray(a))) for a in jax.tree.leaves(all_grads(mu, logvar)))
    g = jax.grad(lambda lg: est.pairwise_concrete_log_density(jnp.log(jax.nn.softmax(lg)), lg, 0.66).sum())(
        jnp.asarray([[30.0, -30.0, 0.0], [0.1, 0.2, 0.3]]))
    assert np.all(np.isfinite(np.asarray(g)))


# ----------------------------------------------------------------------------- two-level decomposition


def concrete_gaussian_batch(B=5, K=3, D=3, seed=11, tau=0.66):
    rng = np.random.default_rng(seed)
    logits = (rng.normal(size=(B, K)) * 2).astype(np.float32)
    a = (logits + rng.gumbel(size=(B, K))) / tau
    log_y = (a - logsumexp(a, axis=1, keepdims=True)).astype(np.float32)
    mu = rng.normal(size=(B, D)).astype(np.float32)
    logvar = rng.uniform(-2, 1, size=(B, D)).astype(np.float32)
    z = (mu + np.exp(0.5 * logvar) * rng.normal(size=(B, D))).astype(np.float32)
    return log_y, logits, tau, z, mu, logvar


def ref_concrete(log_y, logits, tau):
    K = log_y.shape[-1]
    return gammaln(K) + (K - 1) * math.log(tau) + np.sum(logits - (tau + 1) * log_y, -1) - K * logsumexp(logits - tau * log_y, -1)


def test_hierarchical_decomposition_matches_brute_force_and_its_identities():
    log_y, logits, tau, z, mu, logvar = concrete_gaussian_batch()
    B, D = z.shape
    N = 40
    groups = [est.ConcreteGroup(log_y=log_y, logits=logits, temperature=tau), est.GaussianGroup(z=z, mu=mu, logvar=logvar)]
    t = jax.jit(lambda gs: est.hierarchical_decompose(gs, N, "hfvae"))(groups)

    f64 = lambda a: np.asarray(a, np.float64)
    Pc = np.array([[ref_concrete(f64(log_y[i]), f64(logits[j]), tau) for j in range(B)] for i in range(B)])
    Pg = ref_pairwise(f64(z), f64(mu), f64(logvar))
    logW = np.log(ref_weights(B, N, "hfvae"))
    lse = lambda rows: np.array([logsumexp(logW[i] + rows[i]) for i in range(B)])
    lq = lse(Pc + Pg.sum(-1))
    lq_c, lq_g = lse(Pc), lse(Pg.sum(-1))
    lq_dims = np.stack([lse(Pg[..., d]) for d in range(D)], -1)
    lcond = np.array([Pc[i, i] + Pg[i, i].sum() for i in range(B)])
    lp_c = ref_concrete(f64(log_y), np.zeros_like(f64(logits)), tau)
    lp_dims = -0.5 * (LOG2PI + f64(z) ** 2)
    lp = lp_c + lp_dims.sum(-1)
    want = {
        "2": -np.mean(lcond - lq),
        "4": -np.mean(lq - lp),
        "A_prior": 0.0,
        "A_tc": -np.mean(lq - lq_c - lq_g),
        "B": -np.mean(lq_c - lp_c + lq_g - lp_dims.sum(-1)),
        "i_prior": 0.0,
        "i_tc": -np.mean(lq_g - lq_dims.sum(-1)),
        "ii": -np.mean(lq_c - lp_c + (lq_dims - lp_dims).sum(-1)),
    }
    for k, v in want.items():
        np.testing.assert_allclose(float(t[k]), v, rtol=1e-4, atol=2e-3, err_msg=k)
    np.testing.assert_allclose(float(t["A"] + t["B"]), float(t["4"]), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(float(t["i"] + t["ii"]), float(t["B"]), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(float(t["2"] + t["4"]), -float(t["kl_sample"]), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(float(t["within_group_tc"][0]), 0.0, atol=1e-6)  # a Concrete group is one variable

    # (1), (3) from a reconstruction log-likelihood and a marginal-likelihood estimate.
    lpxz, lpx = np.linspace(-10, -5, B), np.linspace(-12, -6, B)
    t = est.hierarchical_decompose(groups, N, "hfvae", log_px_given_z=lpxz, log_px=lpx)
    np.testing.assert_allclose(float(t["1+3"]), lpxz.mean() + math.log(N), rtol=1e-6)
    np.testing.assert_allclose(float(t["1"]) + float(t["3"]), float(t["1+3"]), rtol=1e-6)


def test_first_component_of_A_is_nonzero_for_a_prior_that_couples_groups():
    log_y, logits, tau, z, mu, logvar = concrete_gaussian_batch(seed=12)
    groups = [est.ConcreteGroup(log_y=log_y, logits=logits, temperature=tau), est.GaussianGroup(z=z, mu=mu, logvar=logvar)]
    base = est.hierarchical_decompose(groups, 30, "mss")
    # A prior p(c, z) whose Gaussian mean depends on the class: log p(c, z) = log p(c) + log N(z; m(c), I).
    y = np.exp(np.asarray(log_y, np.float64))
    shift = y @ np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    lp_c = ref_concrete(np.asarray(log_y, np.float64), np.zeros((5, 3)), tau)
    lp_joint = lp_c + (-0.5 * (LOG2PI + (np.asarray(z, np.float64) - shift) ** 2)).sum(-1)
    t = est.hierarchical_decompose(groups, 30, "mss", log_p_joint=lp_joint)
    lp_groups_sum = lp_c + (-0.5 * (LOG2PI + np.asarray(z, np.float64) ** 2)).sum(-1)
    np.testing.assert_allclose(float(t["A_prior"]), np.mean(lp_joint - lp_groups_sum), rtol=1e-5)
    assert abs(float(t["A_prior"])) > 0.05
    np.testing.assert_allclose(float(t["A_tc"]), float(base["A_tc"]), rtol=1e-6)
    np.testing.assert_allclose(float(t["A"] + t["B"]), float(t["4"]), rtol=1e-5, atol=1e-3)
