"""DIP-VAE and the covariance penalty against numpy covariances; correlation metrics on hand-made codes;
DIP-VAE's running covariance estimate (Kumar et al. (2018)) against a numpy recursion, its gradient, and
bit-exact resumption of a run that carries it."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import config as cfg
from disentax import methods, objectives
from disentax.data.registry import get_dataset
from disentax.metrics.correlation import cvr, mapc, tdv, ud90
from disentax.objectives.dip import dip_covariance
from disentax.runner import loop
from disentax.train.checkpoint import Checkpointer
from disentax.train.logging import read_metrics

from helpers import QUICK, TINY_MODEL, configure, images_and_logits, same_leaves, train_until_interrupted


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


# ----------------------------------------------------------------------------- the running covariance


def numpy_dip_covariance(mu, logvar, variant):
    f = lambda a: np.asarray(a, np.float64)
    cov = np.cov(f(mu), rowvar=False, bias=True)
    return cov + np.diag(np.exp(f(logvar)).mean(0)) if variant == "ii" else cov


def numpy_penalty(cov, lod, ld):
    D = cov.shape[0]
    off = sum(cov[i, j] ** 2 for i in range(D) for j in range(D) if i != j)
    return off, sum((cov[i, i] - 1) ** 2 for i in range(D))


@pytest.mark.parametrize("variant", ["i", "ii"])
def test_running_covariance_matches_a_numpy_recursion_over_steps(variant):
    x, out, rec = images_and_logits(7)
    m, lod, ld = 0.7, 3.0, 5.0
    run = jax.jit(lambda mu, lv, prev, m: objectives.dip_vae(x, out, mu, lv, lambda_od=lod, lambda_d=ld,
                                                             variant=variant, previous=prev, momentum=m))
    previous, expected = jnp.zeros((4, 4), jnp.float32), None
    for t in range(4):
        mu, logvar = inputs(seed=10 + t)
        batch = numpy_dip_covariance(mu, logvar, variant)
        # As the method does: the first estimate is the first batch's covariance.
        expected = batch if t == 0 else m * expected + (1 - m) * batch
        loss, aux = run(mu, logvar, previous, 0.0 if t == 0 else m)
        np.testing.assert_allclose(np.asarray(aux["dip_covariance"]), expected, rtol=1e-5, atol=1e-6)
        off, diag = numpy_penalty(expected, lod, ld)
        kl = 0.5 * np.sum(np.exp(logvar.astype(np.float64)) + mu.astype(np.float64) ** 2 - 1 - logvar, -1)
        np.testing.assert_allclose(float(aux["dip_offdiag"]), off, rtol=1e-4)
        np.testing.assert_allclose(float(aux["dip_diag"]), diag, rtol=1e-4)
        np.testing.assert_allclose(float(loss), (rec + kl).mean() + lod * off + ld * diag, rtol=1e-5)
        previous = aux["dip_covariance"]


@pytest.mark.parametrize("variant", ["i", "ii"])
def test_running_gradient_is_the_batch_part_scaled_by_one_minus_m(variant):
    """∂/∂θ R(C_t) = (1 − m)·R'(C_t)·∂C_batch/∂θ, with R'(C)_ij = 2λ_od C_ij (i ≠ j), 2λ_d (C_ii − 1):
    for the 1/B covariance that is (1 − m)(2/B)(μ_n − μ̄)ᵀ G with respect to μ_n, and for variant ii
    also (1 − m)(1/B) G_ii exp(logvar_ni) with respect to logvar_ni; nothing reaches the previous C."""
    x, out, _ = images_and_logits(7)
    mu, logvar = inputs(seed=3)
    m, lod, ld = 0.6, 2.0, 7.0
    rng = np.random.default_rng(4)
    a = rng.normal(size=(4, 4))
    previous = (a @ a.T / 4).astype(np.float32)

    def loss(mu, logvar, previous):
        return objectives.dip_vae(x, out, mu, logvar, lambda_od=lod, lambda_d=ld, variant=variant,
                                  previous=previous, momentum=m)[0]

    g_mu, g_lv, g_prev = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(mu, logvar, previous)
    assert np.array_equal(np.asarray(g_prev), np.zeros((4, 4)))

    f = lambda v: np.asarray(v, np.float64)
    B = mu.shape[0]
    C = m * f(previous) + (1 - m) * numpy_dip_covariance(mu, logvar, variant)
    G = 2 * lod * C
    np.fill_diagonal(G, 2 * ld * (np.diag(C) - 1))
    centred = f(mu) - f(mu).mean(0)
    # The KL's own gradients: ∂/∂μ = μ/B, ∂/∂logvar = (exp(logvar) − 1)/(2B).
    want_mu = f(mu) / B + (1 - m) * (2 / B) * centred @ G
    want_lv = (np.exp(f(logvar)) - 1) / (2 * B)
    if variant == "ii":
        want_lv = want_lv + (1 - m) * np.diag(G) * np.exp(f(logvar)) / B
    np.testing.assert_allclose(np.asarray(g_mu), want_mu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(g_lv), want_lv, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("variant", ["i", "ii"])
def test_momentum_zero_is_the_batch_objective_exactly(variant):
    x, out, _ = images_and_logits(7)
    mu, logvar = inputs(seed=5)
    previous = np.full((4, 4), 3.0, np.float32)  # whatever it holds, m = 0 ignores it

    def batch(mu, logvar):
        return objectives.dip_vae(x, out, mu, logvar, variant=variant)

    def running(mu, logvar):
        return objectives.dip_vae(x, out, mu, logvar, variant=variant, previous=previous, momentum=0.0)

    (lb, ab), gb = jax.jit(jax.value_and_grad(batch, argnums=(0, 1), has_aux=True))(mu, logvar)
    (lr, ar), gr = jax.jit(jax.value_and_grad(running, argnums=(0, 1), has_aux=True))(mu, logvar)
    assert float(lb) == float(lr)
    assert all(np.array_equal(np.asarray(ab[k]), np.asarray(ar[k])) for k in ab)
    assert same_leaves(gb, gr)
    assert np.array_equal(np.asarray(ar["dip_covariance"]), np.asarray(dip_covariance(mu, logvar, variant)))


def test_bad_running_covariance_settings_are_one_line_errors():
    x, out, _ = images_and_logits(7)
    mu, logvar = inputs()
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        objectives.dip_vae(x, out, mu, logvar, previous=np.zeros((4, 4), np.float32), momentum=1.0)
    with pytest.raises(ValueError, match=r"previous covariance must be \(4, 4\)"):
        objectives.dip_vae(x, out, mu, logvar, previous=np.zeros((3, 3), np.float32))
    for override, message in [
        ("--config.dip_vae_i.covariance=rolling", "config.dip_vae_i.covariance must be one of batch, running"),
        ("--config.dip_vae_i.covariance_momentum=1.0", r"config.dip_vae_i.covariance_momentum must be in \[0, 1\)"),
    ]:
        with pytest.raises(cfg.ConfigError, match=message) as info:
            cfg.get("dip_vae_i_dsprites", [override])
        assert "\n" not in str(info.value)


def running_config(method="dip_vae_i", **settings):
    return configure(f"{method}_dsprites", **{**QUICK, **TINY_MODEL, "hp.covariance": "running", **settings})


def test_the_first_step_stores_the_first_batch_covariance():
    c = running_config("dip_vae_ii")
    method = methods.build(c, get_dataset(c.dataset))
    x = method.sample_batch(jax.random.PRNGKey(0), 16)
    state = method.init_state(jax.random.PRNGKey(1), x)
    new, _ = jax.jit(method.train_step)(state, x, jax.random.PRNGKey(2))
    q = method.posterior(state.params, x)  # the pre-step encoder, which the step's loss used
    np.testing.assert_allclose(np.asarray(new.extra["dip_covariance"]),
                               np.asarray(dip_covariance(q.mean, q.logvar, "ii")), rtol=1e-5, atol=1e-7)


def test_running_covariance_run_resumes_bit_for_bit(tmp_path, monkeypatch):
    c = running_config(num_steps=20)
    straight = loop.train(c, tmp_path / "straight", finish=False)
    train_until_interrupted(c, tmp_path / "resumed", 15, monkeypatch)  # between checkpoints 10 and 20
    assert Checkpointer(tmp_path / "resumed" / "checkpoints").latest_step() == 15
    resumed = loop.train(c, tmp_path / "resumed", finish=False)
    s, r = straight["state"], resumed["state"]
    assert resumed["step"] == 20 and same_leaves(s, r)
    est = np.asarray(r.extra["dip_covariance"])
    assert np.all(np.isfinite(est)) and np.abs(est).sum() > 0 and np.allclose(est, est.T)
    assert [x["loss"] for x in read_metrics(tmp_path / "straight")] == [x["loss"] for x in read_metrics(tmp_path / "resumed")]
