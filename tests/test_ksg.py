"""KSG mutual information (Kraskov et al. 2004) against closed forms and an O(N^2) brute force, and
Whitney & Fergus (2018)'s same/cross-factor transition scores on planted factor structure."""
import itertools

import numpy as np
import pytest

from disentax import metrics
from disentax.metrics import ksg_mutual_information as ksg

EULER = 0.5772156649015329


def digamma_int(n):
    """psi(n) = -gamma + sum_{m < n} 1/m for integers n >= 1: independent of scipy's digamma."""
    return np.array([-EULER + sum(1.0 / m for m in range(1, int(v))) for v in np.ravel(n)])


def brute_ksg(x, y, k, estimator):
    """Kraskov et al.'s estimators with explicit [N, N] max-norm distances and counts."""
    x, y = (a.reshape(len(a), -1) for a in (x, y))
    n = len(x)
    dx = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dy = np.abs(y[:, None, :] - y[None, :, :]).max(-1)
    dz = np.maximum(dx, dy)
    other = ~np.eye(n, dtype=bool)
    n_x, n_y = np.zeros(n), np.zeros(n)
    for i in range(n):
        others = np.flatnonzero(other[i])
        nearest = others[np.argsort(dz[i, others], kind="stable")[:k]]
        if estimator == 1:
            eps = dz[i, nearest].max()
            n_x[i] = sum(dx[i, j] < eps for j in others)
            n_y[i] = sum(dy[i, j] < eps for j in others)
        else:
            n_x[i] = sum(dx[i, j] <= dx[i, nearest].max() for j in others)
            n_y[i] = sum(dy[i, j] <= dy[i, nearest].max() for j in others)
    if estimator == 1:
        return digamma_int([k])[0] + digamma_int([n])[0] - np.mean(digamma_int(n_x + 1) + digamma_int(n_y + 1))
    return digamma_int([k])[0] - 1 / k + digamma_int([n])[0] - np.mean(digamma_int(n_x) + digamma_int(n_y))


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("estimator", [1, 2])
@pytest.mark.parametrize("dims", [(1, 1), (2, 3)])
def test_matches_brute_force(k, estimator, dims):
    rng = np.random.default_rng(10 * k + estimator + dims[1])
    x = rng.standard_normal((50, dims[0]))
    y = 0.7 * x[:, :1] + rng.standard_normal((50, dims[1]))  # dependent, continuous: no ties
    want = brute_ksg(x, y, k, estimator)
    assert ksg(x, y, k=k, estimator=estimator, noise=0) == pytest.approx(want, abs=1e-12)


def test_strict_and_non_strict_counts_on_grid_ties():
    # Integer data: many distances equal eps exactly, so < and <= counts differ. With noise off the
    # tree version must still agree with the brute force (the k-th distance is well defined even
    # when the neighbour set is not, and estimator 1 only uses the distance).
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, size=(40, 1)).astype(float)
    y = x + rng.integers(0, 3, size=(40, 1))
    for k in (1, 3):
        assert ksg(x, y, k=k, estimator=1, noise=0) == pytest.approx(brute_ksg(x, y, k, 1), abs=1e-12)


# N = 4000 points per estimate; the mean over R = 8 independent samples has a standard error of
# about 0.003-0.005 nats (measured), and estimator bias for these Gaussians is below 0.01. A count
# off by one shifts the estimate by 0.01-0.09 nats at this N, most at high correlation.
N, R, TOL = 4000, 8, 0.015


def mean_estimate(sample, estimator, **kw):
    return np.mean([ksg(*sample(np.random.default_rng(s)), estimator=estimator, **kw) for s in range(R)])


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("estimator", [1, 2])
def test_bivariate_gaussian(rho, estimator):
    def sample(rng):
        x = rng.standard_normal(N)
        return x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(N)

    assert mean_estimate(sample, estimator) == pytest.approx(-0.5 * np.log(1 - rho**2), abs=TOL)


def _gaussian_case(d, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2 * d, 2 * d))
    cov = a @ a.T / (2 * d) + 0.3 * np.eye(2 * d)
    mi = 0.5 * np.log(np.linalg.det(cov[:d, :d]) * np.linalg.det(cov[d:, d:]) / np.linalg.det(cov))
    chol = np.linalg.cholesky(cov)

    def sample(r):
        z = r.standard_normal((N, 2 * d)) @ chol.T
        return z[:, :d], z[:, d:]

    return mi, sample


@pytest.mark.parametrize("estimator", [1, 2])
def test_multivariate_gaussian(estimator):
    # I = 1/2 log(det S_x det S_y / det S). In 2 + 2 dimensions the bias is still small at this N.
    mi, sample = _gaussian_case(2, 123)
    assert mi > 0.1
    assert mean_estimate(sample, estimator) == pytest.approx(mi, abs=TOL)
    # In 3 + 3 dimensions KSG underestimates (Kraskov et al. 2004, Sec. IV: the bias grows with the
    # dimension); measured -0.035 +- 0.004 at this N. The estimate stays below, and within 0.06.
    mi3, sample3 = _gaussian_case(3, 123)
    est3 = mean_estimate(sample3, estimator)
    assert mi3 - 0.06 < est3 < mi3


@pytest.mark.parametrize("estimator", [1, 2])
def test_independent_uniforms_near_zero(estimator):
    # Uniforms on the unit square: no information; the boundary adds a small positive bias (~0.01).
    def sample(rng):
        return rng.random(N), rng.random((N, 2))

    assert mean_estimate(sample, estimator) == pytest.approx(0.0, abs=0.02)


def test_exact_invariances_without_noise():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 2))
    y = np.tanh(x[:, :1]) + 0.3 * rng.standard_normal((300, 1))
    for est in (1, 2):
        base = ksg(x, y, estimator=est, noise=0)
        assert base > 0.3
        perm = rng.permutation(300)
        assert ksg(x[perm], y[perm], estimator=est, noise=0) == pytest.approx(base, abs=1e-12)
        assert ksg(y, x, estimator=est, noise=0) == pytest.approx(base, abs=1e-12)  # symmetric
        assert ksg(x[:, ::-1], y, estimator=est, noise=0) == base  # column order
        assert ksg(-x, y, estimator=est, noise=0) == base  # sign flips: |-a + b| = |a - b|
        # One common power-of-two scale keeps every max-norm comparison, bit for bit (with noise
        # too, since the noise is relative to the column's scale).
        assert ksg(4 * x, 4 * y, estimator=est, noise=0) == base
        assert ksg(4 * x, 4 * y, estimator=est) == ksg(x, y, estimator=est)


@pytest.mark.parametrize("estimator", [1, 2])
def test_monotone_map_changes_little(estimator):
    # KSG is invariant under a strictly increasing map of x only in the large-N limit: the map
    # changes distances, hence which points are neighbours, so the finite-N estimate moves a little
    # (measured: at most 0.016 for arctan at N = 4000 on one sample; 0.002 on the mean of 8).
    def sample(rng):
        x = rng.standard_normal(N)
        return x, 0.9 * x + np.sqrt(1 - 0.81) * rng.standard_normal(N)

    def mapped(rng):
        x, y = sample(rng)
        return np.arctan(x) + 2 * np.exp(x / 2), y

    direct = mean_estimate(sample, estimator)
    assert mean_estimate(mapped, estimator) == pytest.approx(direct, abs=TOL)
    assert mean_estimate(mapped, estimator) == pytest.approx(-0.5 * np.log(1 - 0.81), abs=TOL)


def test_noise_breaks_ties_reproducibly():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, 500).astype(float)
    y = x + rng.integers(0, 2, 500)
    a, b = ksg(x, y, seed=1), ksg(x, y, seed=1)
    assert a == b
    assert ksg(x, y, seed=2) != a
    # With ties broken at random, the estimate is close to the discrete MI I(x; y) = H(y) - H(y|x),
    # here H(y) - log 2 for y = x + a fair bit: the probabilities of y in 0..4 are (1, 2, 2, 2, 1)/8.
    p = np.array([1, 2, 2, 2, 1]) / 8
    exact = -np.sum(p * np.log(p)) - np.log(2)
    assert a == pytest.approx(exact, abs=0.05)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros((3, 1)), np.zeros((3, 1))), {"k": 3}, "N = 3 must be > k = 3"),
        ((np.zeros((10, 1)), np.zeros((9, 1))), {}, "same number of samples"),
        ((np.array([0.0, np.nan, 1, 2, 3]), np.zeros(5)), {"k": 1}, "x contains NaN"),
        ((np.zeros(5), np.array([0.0, np.inf, 1, 2, 3])), {"k": 1}, "y contains NaN"),
        ((np.zeros(10), np.zeros(10)), {"k": 0}, "k must be an integer >= 1"),
        ((np.zeros(10), np.zeros(10)), {"k": 2.5}, "k must be an integer >= 1"),
        ((np.zeros(10), np.zeros(10)), {"estimator": 3}, r"estimator must be one of \(1, 2\)"),
        ((np.zeros(10), np.zeros(10)), {"noise": -1.0}, "noise must be"),
        ((np.zeros((10, 1, 1)), np.zeros(10)), {}, r"x must have shape \[N\] or \[N, d\]"),
    ],
)
def test_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ksg(*args, **kwargs)


# --- Whitney & Fergus (2018): same- vs cross-factor transition information -------------------


def planted_transitions(n, groups, seed):
    """Codes at t and t+1 where each group of units evolves from its own past only (plus noise)."""
    rng = np.random.default_rng(seed)
    d = sum(len(g) for g in groups)
    z_t = rng.standard_normal((n, d))
    z_next = np.empty_like(z_t)
    for g in groups:
        g = list(g)
        rot = np.linalg.qr(rng.standard_normal((len(g), len(g))))[0]
        z_next[:, g] = np.tanh(z_t[:, g] @ rot) + 0.2 * rng.standard_normal((n, len(g)))
    return z_t, z_next


def test_partitioned_same_much_larger_than_cross():
    z_t, z_next = planted_transitions(3000, [(0, 1), (2, 3)], seed=0)
    out = metrics.partitioned_mutual_information(z_t, z_next, num_factors=2)
    m = out["matrix"]
    assert out["partition"] == ((0, 1), (2, 3))
    assert m.shape == (2, 2)
    assert np.all(np.diag(m) > 1.0) and np.all(np.abs(m[~np.eye(2, dtype=bool)]) < 0.03)
    assert out["same"] == pytest.approx(np.mean(np.diag(m)), abs=1e-12)
    assert out["cross"] == pytest.approx((m[0, 1] + m[1, 0]) / 2, abs=1e-12)
    assert out["difference"] == pytest.approx(out["same"] - out["cross"], abs=1e-12)
    # Each entry is the plain estimator on the same (jitter-free) data: the shared trees change nothing.
    exact = metrics.partitioned_mutual_information(z_t, z_next, num_factors=2, noise=0)["matrix"]
    for i, j in itertools.product(range(2), range(2)):
        gi, gj = [0, 1] if i == 0 else [2, 3], [0, 1] if j == 0 else [2, 3]
        assert exact[i, j] == ksg(z_next[:, gi], z_t[:, gj], noise=0)


def test_partitioned_one_factor_driven_only():
    # Factor 0 at t+1 is a noisy function of factor 0 at t; factor 1 is fresh noise at each step.
    rng = np.random.default_rng(1)
    z_t = rng.standard_normal((3000, 3))
    z_next = np.concatenate([np.sin(z_t[:, :1]) + 0.1 * rng.standard_normal((3000, 1)),
                             rng.standard_normal((3000, 2))], axis=1)
    out = metrics.partitioned_mutual_information(z_t, z_next, partition=[[0], [1, 2]])
    m = out["matrix"]
    assert m[0, 0] > 1.0
    assert abs(m[1, 1]) < 0.03 and abs(m[0, 1]) < 0.03 and abs(m[1, 0]) < 0.03
    assert out["same"] > out["cross"] + 0.5


def test_entangled_transitions_have_cross_information():
    # Every unit at t+1 mixes all units at t: cross-factor information is as large as same-factor.
    rng = np.random.default_rng(2)
    z_t = rng.standard_normal((3000, 4))
    z_next = np.tanh(z_t @ rng.standard_normal((4, 4))) + 0.2 * rng.standard_normal((3000, 4))
    out = metrics.partitioned_mutual_information(z_t, z_next, num_factors=2)
    assert out["cross"] > 0.3
    assert abs(out["difference"]) < 0.5 * out["same"]


def test_best_random_partition_finds_planted_partition():
    planted = ((0, 2), (1, 3))  # not the consecutive blocks
    z_t, z_next = planted_transitions(2000, planted, seed=4)
    out = metrics.best_random_partition(z_t, z_next, num_factors=2, num_partitions=20, seed=0)
    cands = out["candidates"]
    assert len(cands) == 20 and len(out["differences"]) == 20
    # Four units in two pairs have three partitions; twenty draws from this seed hit all of them.
    assert set(cands) == {((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))}
    assert out["partition"] == planted
    assert out["difference"] == max(out["differences"])
    # Scoring the planted partition directly (same seed, so the same jitter) gives the same numbers.
    direct = metrics.partitioned_mutual_information(z_t, z_next, partition=planted, seed=0)
    assert out["same"] == direct["same"] and out["cross"] == direct["cross"]
    np.testing.assert_array_equal(out["matrix"], direct["matrix"])
    others = [d for c, d in zip(cands, out["differences"]) if c != planted]
    assert out["difference"] > max(others) + 0.5


def test_random_partitions_cover_units_with_equal_sizes():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((50, 7))
    out = metrics.best_random_partition(z, z, num_factors=3, num_partitions=5, seed=3)
    for c in out["candidates"]:
        assert sorted(u for g in c for u in g) == list(range(7))
        assert sorted(len(g) for g in c) == [2, 2, 3]
        assert all(list(g) == sorted(g) for g in c) and [g[0] for g in c] == sorted(g[0] for g in c)


def test_transition_pairs_and_consecutive_partition():
    codes = np.arange(2 * 4 * 3).reshape(2, 4, 3)
    z_t, z_next = metrics.transition_pairs(codes)
    assert z_t.shape == z_next.shape == (6, 3)
    np.testing.assert_array_equal(z_t[4], codes[1, 1])
    np.testing.assert_array_equal(z_next[4], codes[1, 2])
    assert metrics.consecutive_partition(6, 3) == ((0, 1), (2, 3), (4, 5))
    assert metrics.consecutive_partition(5, 2) == ((0, 1, 2), (3, 4))


def test_partition_errors():
    z = np.zeros((20, 4))
    with pytest.raises(ValueError, match=r"num_factors must be an integer in \[2, D = 4\]"):
        metrics.partitioned_mutual_information(z, z, num_factors=1)
    with pytest.raises(ValueError, match="give num_factors"):
        metrics.partitioned_mutual_information(z, z)
    with pytest.raises(ValueError, match="each unit in exactly one group"):
        metrics.partitioned_mutual_information(z, z, partition=[[0, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="each unit in exactly one group"):
        metrics.partitioned_mutual_information(z, z, partition=[[0, 1, 2, 3]])
    with pytest.raises(ValueError, match="same shape"):
        metrics.partitioned_mutual_information(z, np.zeros((20, 5)), num_factors=2)
    with pytest.raises(ValueError, match="num_partitions must be"):
        metrics.best_random_partition(z, z, num_factors=2, num_partitions=0)
    with pytest.raises(ValueError, match=r"T >= 2"):
        metrics.transition_pairs(np.zeros((3, 1, 4)))
