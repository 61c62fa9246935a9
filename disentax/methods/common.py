"""Pieces most methods share: batches of images, Gaussian codes, the VAE pictures."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax import estimators, viz
from disentax.methods.contract import Code, GaussianPosterior


def images_only(dataset) -> Callable:
    """`sample_batch(key, batch_size)`: images drawn uniformly from `dataset` (made on device)."""

    def sample_batch(key, batch_size: int):
        return dataset.sample(key, batch_size)[0]

    return sample_batch


def gaussian_code(encode: Callable, blocks, description: str) -> Code:
    """A code scored by its posterior means, from `encode(params, x) -> (mean, logvar)` [B, D]."""

    def representation(params, x):
        return encode(params, x)[0]

    def posterior(params, x):
        mean, logvar = encode(params, x)
        return GaussianPosterior(mean=mean, logvar=logvar)

    return Code(representation=representation, posterior=posterior, blocks=tuple(blocks), description=description)


def concatenated(*encoders: Callable) -> Callable:
    """`encode(params, x) -> (mean, logvar)` of the concatenation of several such encoders' codes."""

    def encode(params, x):
        parts = [e(params, x) for e in encoders]
        return jnp.concatenate([p[0] for p in parts], -1), jnp.concatenate([p[1] for p in parts], -1)

    return encode


def encoder_of(model, method_name: str = "encode") -> Callable:
    """`encode(params, x)`: the Flax `model`'s method `method_name` applied to `params`."""
    fn = getattr(model, method_name)

    def encode(params, x):
        return model.apply({"params": params}, x, method=fn)

    return encode


# The estimator of the logged decomposition. Not "mws": with its published constant −log(N·B) the
# TC reads (D − 1)·log N too high (≈ 122 nats for a 10-d posterior on dSprites) and the
# dimension-wise KL D·log N too low; the hfvae weights sum to 1, estimate q(z) without bias at the
# density level and equal the exact mixture when the pool is the whole dataset.
DIAGNOSTICS_ESTIMATOR = "hfvae"


def decomposition_probe(encode: Callable, dataset, num_points: int = 1024,
                        estimator: str = DIAGNOSTICS_ESTIMATOR) -> Callable:
    """`diagnose(params, key) -> dict`: the ELBO decomposition of `num_points` fresh images.

    Chen et al. (2018), Eq. 2 / Esmaeili et al. (2019), Fig. 1: E KL(q(z|x) ‖ p(z)) = I(x; z) +
    TC(z) + Σ_d KL(q(z_d) ‖ p(z_d)), with q(z) = (1/N) Σ_n q(z|x_n) over the dataset's N examples,
    estimated on M = `num_points` images (at most N) drawn from `dataset` (`key`), one sample z ~ q(z|x) each,
    by `estimators.decomposition_estimate` (the mixture over the M posteriors, `estimator`'s
    weights), each term with its standard error `<name>_se`.

    Why a separate pool and not the training batch: log q̂(z) is the log of a mean over the pool,
    so it is biased low (Jensen), and far more for the D-dimensional joint than for each 1-d
    marginal. With the training batch (B = 64) the logged TC of a trained model reads negative,
    which no KL can be. Measured on a β-VAE (dSprites, 3,000 steps; `benchmarks/RESULTS.md` §7):
    TC −1.79 nats from 64 points, +0.81 from 1,024, +2.27 from 8,192; the dimension-wise KL −0.15,
    0.49, 0.52. At the default M = 1,024 the TC is positive but still low. The loop calls this at
    logging steps only.
    """
    num_points = int(num_points)
    if num_points < 2:
        raise ValueError(f"the decomposition needs a pool of at least 2 points, got {num_points}")
    size = int(dataset.num_examples)
    num_points = min(num_points, size)  # a pool larger than the dataset would repeat its images
    sample = images_only(dataset)
    if not getattr(dataset, "on_host", False):
        sample = jax.jit(sample, static_argnums=1)

    @jax.jit
    def terms(params, x, key):
        mean, logvar = encode(params, x)
        z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)
        return estimators.decomposition_estimate(z, mean, logvar, size, estimator)

    def diagnose(params, key):
        k_x, k_z = jax.random.split(key)
        return terms(params, sample(k_x, num_points), k_z)

    return diagnose


def vae_pictures(config, dataset, model) -> Callable:
    """`pictures(params, key, workdir)` for a VAE with `encode(x) -> (mu, logvar)` and `decode(z)`:
    reconstructions.png and traversals.png (rows ordered by mean KL over a batch)."""
    likelihood = config.model.likelihood
    n = int(config.num_viz_images)

    def pictures(params, key, workdir) -> list[Path]:
        k_data, k_enc = jax.random.split(key)
        x = dataset.sample(k_data, max(int(config.batch_size), n))[0]
        recon, outputs = viz.encode_decode(model, params, x, k_enc, likelihood)
        workdir = Path(workdir)
        paths = [viz.save_reconstructions(workdir / "reconstructions.png", x[:n], recon[:n])]
        kl_per_dim = jnp.mean(dist.gaussian_kl(outputs["mu"], outputs["logvar"]), axis=0)
        paths.append(viz.save_traversals(workdir / "traversals.png", model, params, x[0], kl_per_dim, likelihood,
                                         steps=int(config.traversal_steps), limit=float(config.traversal_range)))
        return paths

    return pictures


__all__ = ["concatenated", "encoder_of", "gaussian_code", "images_only", "vae_pictures"]
