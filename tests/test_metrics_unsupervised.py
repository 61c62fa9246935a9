"""Unsupervised scores (Gaussian total correlation, Gaussian Wasserstein correlation, latent mutual
information) against closed forms and scipy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from disentax import metrics
from disentax.data.base import GroundTruthDataset
from disentax.metrics.utils import discrete_entropy, histogram_discretize

SIGMA = np.array([[1.0, 0.6, 0.0, 0.2],
                  [0.6, 2.0, -0.5, 0.0],
                  [0.0, -0.5, 1.5, 0.3],
                  [0.2, 0.0, 0.3, 0.5]])
D = SIGMA.shape[0]
Q = D * (D - 1) // 2  # free correlations


def tc_closed_form(cov):
    return 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])


def gaussian(n, cov, seed):
    return np.random.default_rng(seed).multivariate_normal(np.zeros(len(cov)), cov, size=n)


def test_total_correlation_is_the_closed_form_of_the_sample_covariance():
    z = gaussian(500, SIGMA, 0)
    assert metrics.gaussian_total_correlation(z) == pytest.approx(tc_closed_form(np.cov(z, rowvar=False)), abs=1e-12)
    # A KL between Gaussians with the same marginals: invariant to rescaling and shifting each dimension.
    assert metrics.gaussian_total_correlation(z * [3.0, -0.1, 7.0, 1.0] + 5.0) == pytest.approx(
        metrics.gaussian_total_correlation(z), abs=1e-10)


def test_total_correlation_converges_to_the_population_value():
    n = 20000
    # Delta method: a correlation's estimate has sd (1 - rho^2)/sqrt(N), and dTC/drho = rho/(1 - rho^2), so
    # each of the Q correlations adds at most |rho|/sqrt(N) <= 1/sqrt(N); 4 sd of their sum, plus the
    # O(Q/N) bias.
    tol = 4 * Q / np.sqrt(n) + Q / n
    for seed in range(3):
        assert metrics.gaussian_total_correlation(gaussian(n, SIGMA, seed)) == pytest.approx(tc_closed_form(SIGMA), abs=tol)


def test_total_correlation_of_independent_codes_is_bartletts_chi_square():
    # With independent dimensions, 2N TC is approximately chi^2 with Q degrees of freedom (Bartlett 1954):
    # mean Q/(2N), sd sqrt(2Q)/(2N).
    n = 10000
    for seed in range(3):
        z = np.random.default_rng(seed).normal(size=(n, D)) * [1.0, 5.0, 0.2, 2.0]
        assert 0.0 <= metrics.gaussian_total_correlation(z) <= (Q + 6 * np.sqrt(2 * Q)) / (2 * n)


def test_total_correlation_degenerate_codes():
    z = gaussian(300, SIGMA, 1)
    with_constant = np.concatenate([z, np.full((300, 1), 4.0)], 1)  # a constant is independent of everything
    assert metrics.gaussian_total_correlation(with_constant) == pytest.approx(metrics.gaussian_total_correlation(z), abs=1e-12)
    assert metrics.gaussian_total_correlation(np.concatenate([z, z[:, :1]], 1)) == np.inf
    assert metrics.gaussian_total_correlation(np.zeros((10, 3))) == 0.0


def scipy_wasserstein(cov):
    """Squared W2 between N(0, cov) and N(0, diag cov), from scipy's matrix square roots."""
    delta = np.diag(np.diag(cov))
    root = scipy.linalg.sqrtm(delta)
    return float(np.real(np.trace(cov) + np.trace(delta) - 2 * np.trace(scipy.linalg.sqrtm(root @ cov @ root))))


def test_wasserstein_matches_scipy_sqrtm():
    for seed in range(3):
        z = gaussian(400, SIGMA, seed) @ np.random.default_rng(seed + 10).normal(size=(D, D))
        cov = np.cov(z, rowvar=False)
        w = metrics.gaussian_wasserstein_correlation(z)
        assert w == pytest.approx(scipy_wasserstein(cov), rel=1e-8, abs=1e-10)
        # disentanglement_lib's form: sqrtm(diag(cov) cov), similar to the symmetric one.
        dl = 2 * np.trace(cov) - 2 * np.trace(scipy.linalg.sqrtm(cov * np.diag(cov)[:, None]))
        assert w == pytest.approx(float(np.real(dl)), rel=1e-8, abs=1e-10)
        assert metrics.gaussian_wasserstein_correlation(z, normalised=True) == pytest.approx(w / np.trace(cov), rel=1e-12)


def test_wasserstein_closed_forms():
    rng = np.random.default_rng(0)
    independent = rng.normal(size=(50000, D)) * [1.0, 2.0, 0.5, 3.0]
    assert metrics.gaussian_wasserstein_correlation(independent, normalised=True) < 1e-3
    # D copies of one code with equal variance s^2: W = 2 D s^2 - 2 sqrt(D) s^2, normalised 2 - 2/sqrt(D).
    same = np.repeat(rng.normal(size=(300, 1)), D, axis=1)
    s2 = np.var(same[:, 0], ddof=1)
    assert metrics.gaussian_wasserstein_correlation(same) == pytest.approx(2 * D * s2 - 2 * np.sqrt(D) * s2, rel=1e-9)
    assert metrics.gaussian_wasserstein_correlation(same, normalised=True) == pytest.approx(2 - 2 / np.sqrt(D), rel=1e-9)
    # The normalised score is scale-free.
    z = gaussian(300, SIGMA, 2)
    assert metrics.gaussian_wasserstein_correlation(10 * z, normalised=True) == pytest.approx(
        metrics.gaussian_wasserstein_correlation(z, normalised=True), rel=1e-10)


def test_mutual_info_score():
    rng = np.random.default_rng(0)
    n = 10000
    z = rng.normal(size=(n, 3))
    # Plug-in MI of independent 20-bin variables is biased up by about (20 - 1)^2 / (2N) nats.
    assert 0.0 < metrics.latent_mutual_info_score(z) < 2 * 19**2 / (2 * n)
    # Two copies of one code: both off-diagonal entries are its entropy H(z_hat), so their mean is too.
    dup = np.concatenate([z[:, :1], 2 * z[:, :1] + 1], 1)
    h = discrete_entropy(histogram_discretize(dup[:, :1], 20))[0]
    assert metrics.latent_mutual_info_score(dup) == pytest.approx(h, abs=1e-12)
    assert metrics.latent_mutual_info_score(z[:, :1]) == 0.0


def test_unsupervised_scores_dict_and_errors():
    z = gaussian(300, SIGMA, 0)
    s = metrics.unsupervised_scores(z)
    assert set(s) == {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                      "gaussian_wasserstein_correlation_norm", "mutual_info_score"}
    assert s["gaussian_total_correlation"] == metrics.gaussian_total_correlation(z)
    for bad, match in ((z[:, 0], "shape"), (z[:1], "N >= 2"), (np.full((5, 2), np.nan), "NaN")):
        for fn in (metrics.gaussian_total_correlation, metrics.gaussian_wasserstein_correlation,
                   metrics.latent_mutual_info_score):
            with pytest.raises(ValueError, match=match):
                fn(bad)
    with pytest.raises(ValueError, match="zero total variance"):
        metrics.gaussian_wasserstein_correlation(np.ones((5, 2)), normalised=True)


class FactorGrid(GroundTruthDataset):
    def __init__(self, sizes):
        super().__init__(name="factor_grid", factor_names=[f"f{i}" for i in range(len(sizes))],
                         factor_sizes=sizes, image_shape=(len(sizes),))

    def render(self, factors):
        return jnp.asarray(factors).astype(jnp.float32)


def test_unsupervised_score_samples_from_the_dataset():
    grid, key = FactorGrid((5, 6, 7)), jax.random.PRNGKey(0)
    s = metrics.unsupervised_score(key, lambda x: x, grid, num_train=2000)
    assert s == metrics.unsupervised_score(key, lambda x: x, grid, num_train=2000)
    # Independent uniform factors: nearly no correlation; a mixed code has clearly more.
    assert s["gaussian_total_correlation"] < 0.01
    mixed = metrics.unsupervised_score(key, lambda x: x @ jnp.array([[1.0, 1.0, 0], [0, 1.0, 0], [0, 0, 1.0]]), grid,
                                       num_train=2000)
    assert mixed["gaussian_total_correlation"] > 0.1 and mixed["mutual_info_score"] > s["mutual_info_score"]
