"""A VAE whose latents are a Concrete group and a Gaussian group (Esmaeili et al. 2019, Table 2).

For dSprites: a 3-way Concrete variable for shape and a 10-d Gaussian for the rest. The
encoder is the usual conv/MLP trunk with a wider output layer: it is built as an encoder of
K + D "latents" whose first K means are read as the Concrete logits and whose remaining
means/log-variances parameterise the Gaussian (the K unused log-variance outputs get no
gradient). The decoder sees the relaxed one-hot sample y [B, K] concatenated with z [B, D].
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.models.vae import build_vae


class ConcreteGaussianVAE(nn.Module):
    """Encoder x → (Concrete logits [B, K], μ, log σ² [B, D]); decoder (y, z) → likelihood params."""

    encoder: nn.Module  # an encoder of num_categories + D latents: returns (a, b), each [B, K + D]
    decoder: nn.Module
    num_categories: int = 3
    temperature: float = 0.66

    def encode_all(self, x):
        a, b = self.encoder(x)
        k = self.num_categories
        return a[:, :k], a[:, k:], b[:, k:]

    def encode(self, x):
        """(μ, log σ²) of the Gaussian group."""
        _, mu, logvar = self.encode_all(x)
        return mu, logvar

    def decode(self, code):
        """`code` = concat(y [B, K], z [B, D])."""
        return self.decoder(code)

    def __call__(self, x, key):
        """Reparameterised samples of both groups; returns dict(logits, log_y, y, mu, logvar, z, out)."""
        logits, mu, logvar = self.encode_all(x)
        k_gauss, k_cat = jax.random.split(key)
        z = dist.gaussian_sample(k_gauss, mu, logvar)
        log_y = dist.concrete_sample_log(k_cat, logits, self.temperature)
        y = jnp.exp(log_y)
        out = self.decoder(jnp.concatenate([y, z], axis=-1))
        return {"logits": logits, "log_y": log_y, "y": y, "mu": mu, "logvar": logvar, "z": z, "out": out}


def build_concrete_gaussian_vae(model_config: Any, image_shape: Sequence[int], num_categories: int, temperature: float):
    """The conv/MLP architecture of `config.model`, with K extra encoder outputs for the logits."""
    widened = model_config.copy_and_resolve_references() if hasattr(model_config, "copy_and_resolve_references") else dict(model_config)
    with widened.unlocked():
        widened.latent_dim = int(model_config.latent_dim) + int(num_categories)
    base = build_vae(widened, image_shape)
    return ConcreteGaussianVAE(
        encoder=base.encoder, decoder=base.decoder, num_categories=int(num_categories), temperature=float(temperature)
    )


__all__ = ["ConcreteGaussianVAE", "build_concrete_gaussian_vae"]
