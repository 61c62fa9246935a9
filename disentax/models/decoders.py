"""Decoders mapping latents [B, D] to the parameters of p(x | z) over images [B, H, W, C].

The convolutional decoder is the transpose of `ConvEncoder` (Burgess et al. 2018,
Appendix A.1): two dense layers of 256, a dense layer reshaped to a 4x4x32 map, then
four 4x4 stride-2 transposed convolutions up to 64x64. The last layer emits one
channel group per likelihood parameter (see `likelihood_params`).
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn

from disentax.models.layers import Up
from disentax.objectives.elbo import likelihood_params


class ConvDecoder(nn.Module):
    """Dense(hidden)... -> Dense(4*4*c) -> 4 x ConvTranspose(4x4, stride 2) -> [B, 64, 64, C*P]."""

    image_shape: Sequence[int] = (64, 64, 1)
    channels: Sequence[int] = (32, 32, 32)
    hidden: Sequence[int] = (256, 256)
    likelihood: str = "bernoulli"
    # How each transposed convolution is computed; all choices are the same function with the
    # same parameters (see disentax.models.layers): conv_transpose | subpixel | matmul.
    upsample: str = "conv_transpose"

    @nn.compact
    def __call__(self, z):
        height, width, out_channels = self.image_shape
        n_up = len(self.channels) + 1
        base_h, base_w = height // 2**n_up, width // 2**n_up
        if base_h * 2**n_up != height or base_w * 2**n_up != width:
            raise ValueError(
                f"image size {height}x{width} is not divisible by 2**{n_up} "
                "(one factor of 2 per transposed convolution)"
            )
        h = z
        for w in self.hidden:
            h = nn.relu(nn.Dense(w)(h))
        h = nn.relu(nn.Dense(base_h * base_w * self.channels[0])(h))
        h = h.reshape(z.shape[0], base_h, base_w, self.channels[0])
        # Named as Flax names nn.ConvTranspose layers, so the parameter tree is the same for
        # every `upsample` choice.
        for i, c in enumerate(self.channels):
            h = nn.relu(Up(c, impl=self.upsample, name=f"ConvTranspose_{i}")(h))
        out = Up(
            out_channels * likelihood_params(self.likelihood), impl=self.upsample,
            name=f"ConvTranspose_{len(self.channels)}",
        )(h)
        return out


class MLPDecoder(nn.Module):
    """Dense(hidden)... -> Dense(H*W*C*P) reshaped to [B, H, W, C*P]; tanh activations.

    The fully connected decoder of Chen et al. 2018 uses (1200, 1200, 1200) with tanh.
    """

    image_shape: Sequence[int] = (64, 64, 1)
    hidden: Sequence[int] = (1200, 1200, 1200)
    likelihood: str = "bernoulli"

    @nn.compact
    def __call__(self, z):
        height, width, out_channels = self.image_shape
        p = likelihood_params(self.likelihood)
        h = z
        for w in self.hidden:
            h = nn.tanh(nn.Dense(w)(h))
        out = nn.Dense(height * width * out_channels * p)(h)
        return out.reshape(z.shape[0], height, width, out_channels * p)
