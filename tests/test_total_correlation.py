"""β-TCVAE and HFVAE objectives against brute-force sums of their terms; their configs train."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import estimators as est
from disentax import objectives
from disentax.data import get_dataset
from disentax.methods import decomposition_diagnostics
from disentax.runner import loop
from disentax.train.logging import read_metrics

from helpers import QUICK, configure, images_and_logits
from test_estimators import concrete_gaussian_batch, ref_log_qz


@pytest.mark.parametrize("estimator", ["mws", "mss", "hfvae"])
def test_beta_tcvae_loss_is_the_weighted_sum_of_brute_force_terms(estimator):
    B, D, N = 6, 3, 500
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(B, D)).astype(np.float32)
    logvar = rng.uniform(-2, 1, size=(B, D)).astype(np.float32)
    z = (mu + np.exp(0.5 * logvar) * rng.normal(size=(B, D))).astype(np.float32)
    x, out, rec = images_and_logits(B)
    a, b, g = 0.7, 6.0, 1.3
    loss, aux = objectives.beta_tcvae(x, out, z, mu, logvar, dataset_size=N, alpha=a, beta=b, gamma=g, estimator=estimator)
    f = lambda t: np.asarray(t, np.float64)
    lq, lqd = ref_log_qz(f(z), f(mu), f(logvar), N, estimator)
    lcond = (-0.5 * (math.log(2 * math.pi) + f(logvar) + (f(z) - f(mu)) ** 2 / np.exp(f(logvar)))).sum(-1)
    lp = -0.5 * (math.log(2 * math.pi) + f(z) ** 2)
    mi, tc, dkl = np.mean(lcond - lq), np.mean(lq - lqd.sum(-1)), np.mean((lqd - lp).sum(-1))
    np.testing.assert_allclose(float(aux["mutual_info"]), mi, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(float(aux["total_correlation"]), tc, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(float(aux["dimwise_kl"]), dkl, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(float(loss), rec.mean() + a * mi + b * tc + g * dkl, rtol=1e-5, atol=1e-2)
    # α = β = γ = 1: the Monte Carlo negative ELBO.
    loss1, aux1 = objectives.beta_tcvae(x, out, z, mu, logvar, dataset_size=N, alpha=1, beta=1, gamma=1, estimator=estimator)
    np.testing.assert_allclose(float(loss1), rec.mean() + np.mean(lcond - lp.sum(-1)), rtol=1e-5, atol=1e-2)


def test_hfvae_with_one_dimension_per_group_is_beta_tcvae():
    """Esmaeili et al. (2019), Table 1: singleton groups make (i) vanish; then
    (1)+(3)+(ii)+α(2)+β(A) is β-TCVAE with γ = 1."""
    B, D, N = 5, 3, 200
    _, _, _, z, mu, logvar = concrete_gaussian_batch(B=B, D=D)
    x, out, _ = images_and_logits(B, seed=3)
    groups = [est.GaussianGroup(z=z[:, d:d + 1], mu=mu[:, d:d + 1], logvar=logvar[:, d:d + 1]) for d in range(D)]
    lh, auxh = objectives.hfvae(x, out, groups, dataset_size=N, alpha=0.5, beta=4.0, gamma=7.0, estimator="mss")
    lt, auxt = objectives.beta_tcvae(x, out, z, mu, logvar, dataset_size=N, alpha=0.5, beta=4.0, gamma=1.0, estimator="mss")
    np.testing.assert_allclose(float(lh), float(lt), rtol=1e-5)
    np.testing.assert_allclose(float(auxh["term_i"]), 0.0, atol=1e-5)
    np.testing.assert_allclose(float(auxh["total_correlation"]), float(auxt["total_correlation"]), rtol=1e-5, atol=1e-5)


def test_hfvae_loss_is_reconstruction_minus_weighted_terms():
    log_y, logits, tau, z, mu, logvar = concrete_gaussian_batch(B=6)
    x, out, rec = images_and_logits(6, seed=4)
    groups = [est.ConcreteGroup(log_y=log_y, logits=logits, temperature=tau), est.GaussianGroup(z=z, mu=mu, logvar=logvar)]
    t = est.hierarchical_decompose(groups, 100, "hfvae")
    loss, aux = objectives.hfvae(x, out, groups, dataset_size=100, alpha=2.0, beta=4.0, gamma=3.0)
    want = rec.mean() - float(t["ii"]) - 2.0 * float(t["2"]) - 4.0 * float(t["A"]) - 3.0 * float(t["i"])
    np.testing.assert_allclose(float(loss), want, rtol=1e-5, atol=1e-3)
    loss1, _ = objectives.hfvae(x, out, groups, dataset_size=100, alpha=1.0, beta=1.0, gamma=1.0)
    np.testing.assert_allclose(float(loss1), rec.mean() + float(t["kl_sample"]), rtol=1e-5, atol=1e-3)
    g = jax.jit(jax.grad(lambda m: objectives.hfvae(
        x, out, [groups[0], est.GaussianGroup(z=m + 0.1, mu=m, logvar=logvar)], dataset_size=100)[0]))(mu)
    assert np.all(np.isfinite(np.asarray(g)))


def small(name, **over):
    return configure(f"{name}_dsprites", **{**QUICK, "log_every": 10, "checkpoint_every": 1000,
                                           "model.encoder": "mlp", "model.mlp_hidden": (32,), **over})


@pytest.mark.parametrize("name", ["beta_tcvae", "hfvae"])
def test_configs_train_without_nan_and_log_the_decomposition(name, tmp_path):
    c = small(name)
    result = loop.train(c, tmp_path, finish=(name == "hfvae"))
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [10, 20]
    for r in records:
        for k in ("loss", "mutual_info", "total_correlation", "dimwise_kl"):
            assert np.isfinite(r[k]), (k, r[k])
    if name == "hfvae":
        assert (tmp_path / "traversals.png").exists()
        codes = result["method"].representation(result["state"].params, jnp.zeros((2, 64, 64, 1)))
        assert codes.shape == (2, 10 + 3)


def test_beta_vae_run_logs_its_total_correlation(tmp_path):
    c = small("beta_vae", num_steps=10)
    loop.train(c, tmp_path, finish=False)
    rec = read_metrics(tmp_path)[-1]
    assert {"mutual_info", "total_correlation", "dimwise_kl", "kl_per_dim"} <= set(rec)
    # The logged terms add up to the batch's sampled KL, which is close to the closed-form KL.
    assert abs(rec["mutual_info"] + rec["total_correlation"] + rec["dimwise_kl"] - rec["kl"]) < 5.0


def test_diagnostics_helper_for_custom_steps():
    c = small("beta_vae")
    diag = decomposition_diagnostics(get_dataset(c.dataset), c.batch_size)
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(16, 10)).astype(np.float32)
    logvar = np.zeros((16, 10), np.float32)
    z = mu + rng.normal(size=mu.shape).astype(np.float32)
    out = jax.jit(diag)({"z": z, "mu": mu, "logvar": logvar})
    assert set(out) == {"mutual_info", "total_correlation", "dimwise_kl"}
    ref = est.decompose(z, mu, logvar, 737_280, "hfvae")  # dSprites' N, the default diagnostics estimator
    for k, v in out.items():
        np.testing.assert_allclose(float(v), float(ref[k]), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="allowed"):
        est.make_decomposition_diagnostics(10, "nope")
