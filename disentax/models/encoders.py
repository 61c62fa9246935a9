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
        h = _conv_trunk(x, self.channels, self.hidden, self.downsample)  # first: Flax names layers as built
        out = nn.Dense(2 * self.latent_dim)(h)
        mu, logvar = jnp.split(out, 2, axis=-1)
        return mu, logvar


def _conv_trunk(x, channels, hidden, downsample):
    """Strided 4x4 convolutions then dense layers, ReLU throughout; called inside a compact module,
    so the layers are that module's (Conv_i, Dense_j)."""
    h = x
    for i, c in enumerate(channels):
        h = nn.relu(Down(c, impl=downsample, name=f"Conv_{i}")(h))
    h = h.reshape(h.shape[0], -1)
    for width in hidden:
        h = nn.relu(nn.Dense(width)(h))
    return h


class ConvEmbedding(nn.Module):
    """The `ConvEncoder` trunk with a deterministic head: images -> an embedding [B, dim].

    What the supervised embedding losses (`disentax.objectives.embedding`) train. The head has no
    bias: those losses are invariant to a shift of the embedding, so a bias would get only rounding
    noise as its gradient, which Adam scales up to full-size steps.
    """

    dim: int = 22
    channels: Sequence[int] = (32, 32, 32, 32)
    hidden: Sequence[int] = (256, 256)
    downsample: str = "conv"

    @nn.compact
    def __call__(self, x):
        h = _conv_trunk(x, self.channels, self.hidden, self.downsample)
        return nn.Dense(self.dim, use_bias=False)(h)


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
