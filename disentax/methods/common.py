"""Pieces most methods share: batches of images, Gaussian codes, the VAE pictures."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax import viz
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
