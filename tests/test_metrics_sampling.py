"""Sampling metrics (β-VAE, FactorVAE), mig_exact and I(x; z_d) on a dataset whose 'images' are
its own factors, so the representation can be any hand-made function of the factors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import distributions as dist
from disentax import metrics
from disentax.data.base import GroundTruthDataset


class FactorGrid(GroundTruthDataset):
    """A factor grid whose rendered 'image' of factors f is f itself as a float vector [K]."""

    def __init__(self, sizes):
        super().__init__(name="factor_grid", factor_names=[f"f{i}" for i in range(len(sizes))],
                         factor_sizes=sizes, image_shape=(len(sizes),))

    def render(self, factors):
        return jnp.asarray(factors).astype(jnp.float32)


DS = FactorGrid((3, 4, 5, 6))
K = DS.num_factors
KEY = jax.random.PRNGKey(0)
PERM = jnp.array([2, 0, 3, 1])
SCALE = jnp.array([0.5, 3.0, -2.0, 10.0])
SMALL = dict(num_train=600, num_eval=300, points_per_call=150)


def identity(x):
    return x


def perm_rescale(x):
    return x[:, PERM] * SCALE + 1.0


def drop_first(x):
    return x[:, 1:]


def random_code(x):
    """Independent N(0, 1) codes per factor combination: no information about any single factor."""
    idx = DS.factors_to_index(x.astype(jnp.int32))
    return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(7), i), (K,)))(idx)


def constant(x):
    return jnp.zeros((x.shape[0], 3))


def mixed(x):
    """Partly entangled: some dimensions mix factors, one is pure noise-like."""
    noise = random_code(x)
    return jnp.stack([x[:, 0] + 0.3 * x[:, 1], x[:, 1] - x[:, 2], x[:, 3] + 2 * noise[:, 0], x[:, 2] + noise[:, 1]], 1)


def scaled_mixed(x):
    return mixed(x) * jnp.array([0.2, 30.0, -4.0, 1.5])


def test_factor_vae_known_answers():
    fv = lambda rep, **kw: metrics.factor_vae_score(KEY, rep, DS, num_variance_estimate=1000, **SMALL, **kw)  # noqa: E731
    s = fv(perm_rescale)
    assert s["train_accuracy"] == 1.0 and s["eval_accuracy"] == 1.0 and s["num_active_dims"] == K
    # Random codes: each dimension wins a factor's votes by chance -> about 1/K, not 0.
    assert fv(random_code)["eval_accuracy"] == pytest.approx(1.0 / K, abs=0.1)
    assert fv(constant) == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "error_rate": 1.0, "num_active_dims": 0}
    # Without factor 0's code, factor 0's votes (1/K of them) fall on other dimensions' factors.
    assert fv(drop_first)["eval_accuracy"] == pytest.approx(1.0 - 1.0 / K, abs=0.06)
    # Rescaling dimensions changes nothing: same key, same votes.
    a, b = fv(mixed), fv(scaled_mixed)
    assert 0.3 < a["eval_accuracy"] < 0.95
    assert a["error_rate"] == pytest.approx(1.0 - a["eval_accuracy"], abs=1e-12)  # the complement, on the eval votes
    assert a == b


def test_factor_vae_prunes_collapsed_dimensions():
    def with_dead_dim(x):
        return jnp.concatenate([x, 0.01 * x[:, :1]], 1)  # std ~ 0.008 < 0.05: pruned

    s = metrics.factor_vae_score(KEY, with_dead_dim, DS, num_variance_estimate=1000, **SMALL)
    assert s["num_active_dims"] == K and s["eval_accuracy"] == 1.0


def test_factor_vae_excluded_factor_is_never_held_fixed():
    # Kim & Mnih's footnote 1 (shape left out): a code without factor 0 loses 1/K of the votes when
    # factor 0 may be fixed, and none when it is excluded; the index and the name are the same.
    fv = lambda rep, **kw: metrics.factor_vae_score(KEY, rep, DS, num_variance_estimate=1000, **SMALL, **kw)  # noqa: E731
    by_name, by_index = fv(drop_first, exclude_factors=("f0",)), fv(drop_first, exclude_factors=(0,))
    assert by_name == by_index and by_name["eval_accuracy"] == 1.0 and by_name["train_accuracy"] == 1.0
    # A random code over the 3 remaining factors: chance is 1/3, not 1/4.
    assert fv(random_code, exclude_factors=("f0",))["eval_accuracy"] == pytest.approx(1.0 / 3, abs=0.1)
    # Excluding nothing is the default, vote for vote.
    assert fv(mixed, exclude_factors=()) == fv(mixed)
    for bad, match in ((("colour",), "not a factor"), ((7,), "outside 0..3"), ((0, 1, 2, 3), "no factor")):
        with pytest.raises(ValueError, match=match):
            fv(identity, exclude_factors=bad)


def test_beta_vae_known_answers():
    bv = lambda rep: metrics.beta_vae_score(KEY, rep, DS, **SMALL)  # noqa: E731
    s = bv(perm_rescale)
    assert s["train_accuracy"] >= 0.99 and s["eval_accuracy"] >= 0.99
    assert bv(random_code)["eval_accuracy"] == pytest.approx(1.0 / K, abs=0.1)
    # The metric's blind spot (Kim & Mnih 2018): a missing factor is recognised by the absence of a
    # zero coordinate, so dropping a factor costs nothing here while FactorVAE loses 1/K.
    assert bv(drop_first)["eval_accuracy"] >= 0.97


def test_sampling_wrappers_match_array_metrics():
    s = metrics.mig_score(KEY, perm_rescale, DS, num_train=2000)
    codes, factors = metrics.sample_codes(KEY, perm_rescale, DS, 2000)
    assert s["mig"] == pytest.approx(metrics.mig(codes, factors), abs=1e-12)
    assert s["mig"] == pytest.approx(1.0, abs=0.01)
    # Codes are exactly the (permuted, rescaled) factors of the sampled examples.
    np.testing.assert_allclose(codes, np.asarray(perm_rescale(jnp.asarray(factors, jnp.float32))), rtol=1e-6)


def _brute_entropy(z, mu, logvar):
    """-(1/S) sum_s log (1/M) sum_m N(z_s; mu_m, var_m), per dimension, float64 loops."""
    z, mu, var = (np.asarray(a, np.float64) for a in (z, mu, np.exp(logvar)))
    out = np.zeros(z.shape[1])
    for d in range(z.shape[1]):
        total = 0.0
        for s in range(z.shape[0]):
            dens = [np.exp(-0.5 * (z[s, d] - mu[m, d]) ** 2 / var[m, d]) / np.sqrt(2 * np.pi * var[m, d])
                    for m in range(mu.shape[0])]
            total += np.log(np.mean(dens))
        out[d] = -total / z.shape[0]
    return out


def test_mig_exact_matches_brute_force():
    ds = FactorGrid((2, 3, 2))
    n, d = ds.num_examples, 3
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(n, d)) * 2
    mu[:, 0] += 3 * np.asarray(ds.index_to_factors(np.arange(n)))[:, 1]
    logvar = rng.normal(size=(n, d)) * 0.5 - 1
    key = jax.random.PRNGKey(3)
    out = metrics.mig_exact(key, (mu, logvar), ds, num_samples=100, sample_chunk=5, component_chunk=4)
    z = np.asarray(dist.gaussian_sample(jax.random.split(key)[0], jnp.asarray(mu, jnp.float32),
                                        jnp.asarray(logvar, jnp.float32)))
    h = _brute_entropy(z, mu, logvar)
    f = np.asarray(ds.index_to_factors(np.arange(n)))
    mi = []
    for k, size in enumerate(ds.factor_sizes):
        hc = np.mean([_brute_entropy(z[f[:, k] == v], mu[f[:, k] == v], logvar[f[:, k] == v]) for v in range(size)], 0)
        mi.append(np.maximum(h - hc, 0))
    mi = np.array(mi)
    top = np.sort(mi, 1)[:, ::-1]
    gaps = (top[:, 0] - top[:, 1]) / np.log(ds.factor_sizes)
    np.testing.assert_allclose(out["marginal_entropy"], h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["mutual_info"], mi, rtol=1e-3, atol=1e-4)
    assert out["mig"] == pytest.approx(gaps.mean(), rel=1e-3, abs=1e-4)
    assert out["mig"] > 0.1  # code 0 carries factor 1, so the check is not trivially zero


def test_mig_exact_separated_posteriors_score_one_through_an_encoder():
    ds = FactorGrid((4, 4))

    def encoder(x):  # tight posteriors centred on 10 * factor value, one code per factor
        return 10.0 * x[:, ::-1], jnp.full(x.shape, np.log(0.01), jnp.float32)

    out = metrics.mig_exact(KEY, encoder, ds, encode_batch_size=5)
    # I(z_j; v_k) = log 4 for the matching code (the code identifies the value), 0 otherwise.
    np.testing.assert_allclose(out["mutual_info"], np.log(4) * np.eye(2)[::-1], atol=1e-3)
    assert out["mig"] == pytest.approx(1.0, abs=1e-3)
    assert metrics.mig_exact(KEY, encoder, ds, factors=["f1"])["factors"] == ["f1"]


def test_mutual_information_per_dim_matches_brute_force():
    rng = np.random.default_rng(1)
    n, d = 7, 2
    mu, logvar = rng.normal(size=(n, d)), rng.normal(size=(n, d)) * 0.3 - 1
    labels = np.array([0, 0, 0, 1, 1, 2, 2])  # unequal class sizes
    key = jax.random.PRNGKey(4)
    out = metrics.mutual_information_per_dim(key, mu, logvar, labels, num_samples=None, component_chunk=2)
    z = np.asarray(dist.gaussian_sample(jax.random.split(key)[0], jnp.asarray(mu, jnp.float32),
                                        jnp.asarray(logvar, jnp.float32)))
    h = _brute_entropy(z, mu, logvar)
    expected_x = h - np.mean(0.5 * (np.log(2 * np.pi * np.e) + logvar), 0)
    hc = sum(np.mean(labels == c) * _brute_entropy(z[labels == c], mu[labels == c], logvar[labels == c]) for c in range(3))
    np.testing.assert_allclose(out["mi_x"], expected_x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["mi_y"], h - hc, rtol=1e-4, atol=1e-5)


def test_metrics_say_when_a_dataset_has_no_factors():
    class Images:
        name = "unlabelled"

    with pytest.raises(metrics.NotApplicable, match="factor_vae needs ground-truth factors; dataset 'unlabelled'"):
        metrics.factor_vae_score(KEY, identity, Images())
    out = metrics.evaluate(KEY, identity, Images(), "mig,beta_vae,information")
    assert all("not_applicable" in v for v in out.values()), out
    with pytest.raises(ValueError, match="unknown metric 'migg'; allowed: mig, dci"):
        metrics.evaluate(KEY, identity, DS, "migg")
