"""The VAE module: an encoder q(z|x) and a decoder p(x|z) sharing one parameter tree.

The module only computes network outputs; every loss lives in `disentax.objectives`
as a pure function of the arrays returned here.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.models import layers
from disentax.models.decoders import ConvDecoder, MLPDecoder
from disentax.models.encoders import ConvEncoder, MLPEncoder


class VAE(nn.Module):
    """Pairs an encoder returning (mu, logvar) with a decoder returning likelihood parameters."""

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def __call__(self, x, key):
        """Encode, draw z ~ q(z|x) by reparameterisation (Kingma & Welling 2014), decode.

        Returns a dict with `mu`, `logvar`, `z` ([B, D]) and `out` (decoder output).
        """
        mu, logvar = self.encoder(x)
        z = dist.gaussian_sample(key, mu, logvar)
        return {"mu": mu, "logvar": logvar, "z": z, "out": self.decoder(z)}


class FactorEncoder(nn.Module):
    """q(z|f) of Burgess et al. (2018), Sec. 4.3 (Eq. 7): one latent per ground-truth factor,
    z_k = w_k f_k + σ_k ε_k, each factor scaled by a learned w_k and given learned noise σ_k.

    Takes standardised factors f [B, K] (zero mean, unit variance over the factor grid) and returns
    (mu, logvar) = (w ⊙ f, 2 ln σ), so a `VAE` with this encoder is the paper's factor-conditioned
    generator. The noise is held at or below the prior's, ln σ = −softplus(ρ): KL = ½(w² + σ² − 1 −
    ln σ²) also grows with σ > 1, noise that carries nothing about f, and under |KL − C| an
    unconstrained σ runs off that way (measured: σ = 2.9 and w = 0.93 at 15 nats, reconstructions
    no better than the mean image). With σ ≤ 1 every nat bought is information about f. w starts at
    `init_scale` and σ just below 1: q(z|f) starts next to the prior (KL ≈ 0).
    """

    num_factors: int
    init_scale: float = 0.01

    @nn.compact
    def __call__(self, f):
        w = self.param("scale", nn.initializers.constant(self.init_scale), (self.num_factors,))
        rho = self.param("noise", nn.initializers.constant(-5.0), (self.num_factors,))
        return w * f, jnp.broadcast_to(2 * log_noise(rho), f.shape)


def log_noise(rho):
    """ln σ of `FactorEncoder` from its parameter ρ: −softplus(ρ) ≤ 0."""
    return -jax.nn.softplus(rho)


ENCODERS = ("conv", "mlp")


def build_vae(model_config: Any, image_shape: Sequence[int]) -> VAE:
    """Build the VAE described by `config.model` for images of `image_shape` (H, W, C)."""
    kind = model_config.encoder
    if kind == "conv":
        # "auto" picks the fastest of the equivalent implementations on the current backend.
        up = layers.resolve("upsample", model_config.get("upsample", "auto"), layers.UPSAMPLE, layers.default_upsample)
        down = layers.resolve("downsample", model_config.get("downsample", "auto"), layers.DOWNSAMPLE,
                              layers.default_downsample)
        enc = ConvEncoder(
            latent_dim=model_config.latent_dim,
            channels=tuple(model_config.conv_channels),
            hidden=tuple(model_config.hidden),
            downsample=down,
        )
        dec = ConvDecoder(
            image_shape=tuple(image_shape),
            channels=tuple(model_config.conv_channels[:-1]),
            hidden=tuple(model_config.hidden),
            likelihood=model_config.likelihood,
            upsample=up,
        )
    elif kind == "mlp":
        enc = MLPEncoder(latent_dim=model_config.latent_dim, hidden=tuple(model_config.mlp_hidden))
        dec = MLPDecoder(
            image_shape=tuple(image_shape),
            hidden=tuple(model_config.mlp_hidden),
            likelihood=model_config.likelihood,
        )
    else:
        raise ValueError(f"unknown model.encoder {kind!r}; allowed: {list(ENCODERS)}")
    return VAE(encoder=enc, decoder=dec)
