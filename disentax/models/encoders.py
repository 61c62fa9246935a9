"""Encoders mapping images [B, H, W, C] to diagonal-Gaussian posterior parameters.

The convolutional encoder is the standard architecture of Burgess et al. 2018
("Understanding disentangling in beta-VAE", Appendix A.1), also used by
Higgins et al. 2017 and Kim & Mnih 2018 on dSprites: four 4x4 stride-2 convolutions
with 32 channels, two dense layers of 256 units, ReLU throughout, and a final dense
layer giving the mean and log-variance of each latent dimension.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from disentax.models.layers import Down


class ConvEncoder(nn.Module):
    """4 x Conv(channels, 4x4, stride 2) -> 2 x Dense(hidden) -> Dense(2 * latent_dim)."""

    latent_dim: int = 10
    channels: Sequence[int] = (32, 32, 32, 32)
    hidden: Sequence[int] = (256, 256)
    # How each strided convolution is computed; all choices are the same function with the same
    # parameters (see disentax.models.layers): conv | s2d | matmul.
    downsample: str = "conv"

    @nn.compact
    def __call__(self, x):
        h = x
        for i, c in enumerate(self.channels):
            h = nn.relu(Down(c, impl=self.downsample, name=f"Conv_{i}")(h))
        h = h.reshape(h.shape[0], -1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        out = nn.Dense(2 * self.latent_dim)(h)
        mu, logvar = jnp.split(out, 2, axis=-1)
        return mu, logvar


class MLPEncoder(nn.Module):
    """Flatten -> Dense(hidden)... -> Dense(2 * latent_dim); ReLU activations.

    The fully connected encoder of Chen et al. 2018 and Kim & Mnih 2018 uses (1200, 1200).
    """

    latent_dim: int = 10
    hidden: Sequence[int] = (1200, 1200)

    @nn.compact
    def __call__(self, x):
        h = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        out = nn.Dense(2 * self.latent_dim)(h)
        mu, logvar = jnp.split(out, 2, axis=-1)
        return mu, logvar
