"""Burgess et al. (2018), Eq. 7: the factor-conditioned generator's q(z|f), its closed-form KL per
factor against an exact average over the factor grid, the onset reading, and a short run."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import distributions as dist
from disentax.evaluation.capacity import capacity_onsets, factor_kl, standardise_factors
from disentax.methods.factor_capacity import logged_capacity_curve
from disentax.models.vae import FactorEncoder, log_noise
from disentax.runner import loop

from helpers import tiny_config


def test_standardised_factors_have_zero_mean_and_unit_variance_over_the_grid():
    sizes = [3, 6, 40, 32, 1]
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, len(sizes))
    f = np.asarray(standardise_factors(grid.astype(np.float32), sizes), np.float64)
    np.testing.assert_allclose(f.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(f.var(0), [1, 1, 1, 1, 0], atol=1e-6)


def test_factor_kl_is_the_average_gaussian_kl_over_every_factor_value():
    sizes = [3, 7, 1]
    enc = FactorEncoder(3)
    params = {"scale": jnp.array([0.7, 2.5, 1.3]), "noise": jnp.array([-1.2, 0.4, 3.0])}
    exact = []
    for k, s in enumerate(sizes):
        f = np.zeros((s, 3), np.float32)
        f[:, k] = np.arange(s)
        mu, logvar = enc.apply({"params": params}, standardise_factors(jnp.asarray(f), sizes))
        exact.append(float(np.mean(np.asarray(dist.gaussian_kl(mu, logvar))[:, k])))
    got = factor_kl(params["scale"], log_noise(params["noise"]), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(got, exact, rtol=1e-5)
    # At the initial state q(z|f) sits next to the prior: under the first target of 0.5 nats.
    init = FactorEncoder(5).init(jax.random.PRNGKey(0), jnp.zeros((2, 5)))["params"]
    assert factor_kl(init["scale"], log_noise(init["noise"])).sum() < 1e-3
    assert float(jnp.max(log_noise(jnp.array([-30.0, 0.0, 30.0])))) <= 0  # σ never above the prior's


def test_capacity_onsets_are_the_first_capacity_over_the_threshold():
    c = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    kl = np.array([[0.2, 0.0], [0.4, 0.0], [0.6, 0.1], [1.0, 0.49], [1.5, 0.49]])
    assert capacity_onsets(c, kl, 0.5) == [2.0, None]
    assert capacity_onsets(c, kl, 0.1) == [0.5, 2.0]
    with pytest.raises(ValueError, match="kl_per_factor must be"):
        capacity_onsets(c, kl[:3])


def test_factor_capacity_trains_toward_its_capacity_and_logs_the_kl_of_each_factor(tmp_path):
    # 60 steps with C from 0.5 to 3 nats and a fast optimiser: the KL follows C up, one latent per factor.
    c = tiny_config("factor_capacity", num_steps=60, log_every=10, checkpoint_every=30,
                    **{"hp.c_start": 0.5, "hp.c_max": 3.0, "hp.c_steps": 60, "optimizer.learning_rate": 0.05})
    loop.train(c, tmp_path)
    ev = json.loads((tmp_path / "evaluation.json").read_text())
    assert list(ev["kl_per_factor"]) == ["shape", "scale", "orientation", "pos_x", "pos_y"]
    cap, kl = logged_capacity_curve(tmp_path / "metrics.jsonl")
    assert kl.shape == (6, 5) and np.all(np.diff(cap) > 0)
    assert kl[-1].sum() > 1.5 > kl[0].sum()  # the code opens up as C rises
    # The closed-form KL of the final parameters is what the training batches estimated.
    assert ev["total_kl"] == pytest.approx(kl[-1].sum(), rel=0.2)
    assert (tmp_path / "capacity.png").exists() and (tmp_path / "reconstructions.png").exists()


def test_gaussian_blobs_render_the_formula_at_every_pixel():
    from disentax.data.gaussian_blobs import BLOB_WIDTH, CENTRES
    from disentax.data.registry import get_dataset

    ds = get_dataset("gaussian_blobs")
    assert ds.factor_names == ("pos_x", "pos_y") and ds.num_examples == 1024 and ds.image_shape == (64, 64, 1)
    f = np.array([[0, 31], [17, 4]])
    x = np.asarray(ds.render(f))[..., 0]
    for img, (i, j) in zip(x, f):
        rows, cols = np.mgrid[0:64, 0:64]
        ref = np.exp(-((cols - CENTRES[i]) ** 2 + (rows - CENTRES[j]) ** 2) / (2 * BLOB_WIDTH**2))
        np.testing.assert_allclose(img, ref, rtol=1e-5, atol=1e-7)
    assert np.unravel_index(x[0].argmax(), x[0].shape) == (55, 8)  # (row = y, column = x)
