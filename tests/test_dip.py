"""DIP-VAE and the covariance penalty against numpy covariances; correlation metrics on hand-made codes."""
import math

import jax
import numpy as np
import pytest

from disentax import objectives
from disentax.metrics.correlation import cvr, mapc, tdv, ud90
from disentax.objectives.dip import dip_covariance
from disentax.runner import loop
from disentax.train.logging import read_metrics

from helpers import QUICK, configure, images_and_logits


def inputs(B=7, D=4, seed=0):
    rng = np.random.default_rng(seed)
    mu = (rng.normal(size=(B, D)) @ rng.normal(size=(D, D))).astype(np.float32)
    logvar = rng.uniform(-3, 1, size=(B, D)).astype(np.float32)
    return mu, logvar


@pytest.mark.parametrize("variant", ["i", "ii"])
def test_dip_covariance_and_loss_match_numpy(variant):
    mu, logvar = inputs()
    f = lambda a: np.asarray(a, np.float64)
    cov = np.cov(f(mu), rowvar=False, bias=True)  # E_x over the batch: 1/B
    if variant == "ii":
        cov = cov + np.diag(np.exp(f(logvar)).mean(0))
    np.testing.assert_allclose(np.asarray(dip_covariance(mu, logvar, variant)), cov, rtol=1e-5, atol=1e-5)

    x, out, rec = images_and_logits(7)
    lod, ld = 10.0, 25.0
    loss, aux = objectives.dip_vae(x, out, mu, logvar, lambda_od=lod, lambda_d=ld, variant=variant)
    D = cov.shape[0]
    off = sum(cov[i, j] ** 2 for i in range(D) for j in range(D) if i != j)
    diag = sum((cov[i, i] - 1) ** 2 for i in range(D))
    kl = 0.5 * np.sum(np.exp(f(logvar)) + f(mu) ** 2 - 1 - f(logvar), -1)
    np.testing.assert_allclose(float(aux["dip_offdiag"]), off, rtol=1e-4)
    np.testing.assert_allclose(float(aux["dip_diag"]), diag, rtol=1e-4)
    np.testing.assert_allclose(float(loss), (rec + kl).mean() + lod * off + ld * diag, rtol=1e-5)
    g = jax.jit(jax.grad(lambda m: objectives.dip_vae(x, out, m, logvar, variant=variant)[0]))(mu)
    assert np.all(np.isfinite(np.asarray(g)))


def test_bad_variant_raises():
    mu, logvar = inputs()
    with pytest.raises(ValueError, match="allowed: i, ii"):
        dip_covariance(mu, logvar, "iii")


def test_covariance_penalty_is_l1_of_the_whole_unbiased_covariance_over_p_squared():
    rng = np.random.default_rng(2)
    h = (rng.normal(size=(9, 5)) * [1, 2, 0.1, 3, 1]).astype(np.float32)
    pen, aux = objectives.covariance_penalty(h)
    C = np.cov(np.asarray(h, np.float64), rowvar=False, ddof=1)
    np.testing.assert_allclose(np.asarray(aux["covariance"]), C, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(pen), np.abs(C).sum() / 25, rtol=1e-5)
    # The diagonal counts: uncorrelated codes still pay their variances.
    hh = np.array([[1, 1], [-1, 1], [1, -1], [-1, -1]], np.float32)  # orthogonal, variance 4/3 each
    np.testing.assert_allclose(float(objectives.covariance_penalty(hh)[0]), (4 / 3 + 4 / 3) / 4, rtol=1e-6)
    assert np.all(np.isfinite(np.asarray(jax.grad(lambda a: objectives.covariance_penalty(a)[0])(h))))


def hadamard8():
    H = np.array([[1.0]])
    for _ in range(3):
        H = np.block([[H, H], [H, -H]])
    return H[:, 1:]  # 7 zero-mean, mutually orthogonal columns


def test_correlation_metrics_on_codes_with_known_answers():
    H = hadamard8()
    a, b = H[:, 0], H[:, 1]
    codes = np.stack([a, b, a + b], 1)  # corr(a, b) = 0, corr(a, a+b) = corr(b, a+b) = 1/√2
    assert math.isclose(mapc(codes), (2 / 6) * (2 / math.sqrt(2)), rel_tol=1e-12)
    # C = v·[[1,0,1],[0,1,1],[1,1,2]]: ‖C‖₁ = 8v, tr C = 4v.
    assert math.isclose(cvr(codes), 8 / (9 * 4), rel_tol=1e-12)
    assert math.isclose(tdv(codes, 1), 0.5, rel_tol=1e-12)
    assert math.isclose(tdv(codes, 2), 0.75, rel_tol=1e-12)
    assert ud90(codes) == 3

    # Uncorrelated codes with variances ∝ 4, 3, 2, 1: MAPC 0, CVR = 1/p², 90% needs exactly three dims.
    scaled = H[:, :4] * np.sqrt([4.0, 3.0, 2.0, 1.0])
    assert mapc(scaled) < 1e-12
    assert math.isclose(cvr(scaled), 1 / 16, rel_tol=1e-12)
    assert math.isclose(tdv(scaled, 2), 0.7, rel_tol=1e-12)
    assert ud90(scaled) == 3
    assert ud90(H[:, :3] * [10.0, 1.0, 0.1]) == 1
    # A constant dimension: its pairs count as 0 correlation instead of NaN.
    with_dead = np.concatenate([codes, np.zeros((8, 1))], 1)
    assert math.isclose(mapc(with_dead), (2 / 12) * (2 / math.sqrt(2)), rel_tol=1e-12)
    with pytest.raises(ValueError, match="between 1 and"):
        tdv(codes, 4)


@pytest.mark.parametrize("name", ["dip_vae_i", "dip_vae_ii"])
def test_dip_configs_train_without_nan(name, tmp_path):
    c = configure(f"{name}_dsprites", **{**QUICK, "log_every": 10, "checkpoint_every": 1000,
                                        "model.encoder": "mlp", "model.mlp_hidden": (32,)})
    loop.train(c, tmp_path, finish=False)
    for r in read_metrics(tmp_path):
        assert all(np.isfinite(r[k]) for k in ("loss", "dip_penalty", "total_correlation")), r
