"""The networks of JADE (Karimi, Banijamali, Wong & Ghodsi (2018), Sec. 3) and its two baselines.

- `PoolCNN`: 3x3 convolutions with ReLU, a 2x2 max-pool after each of the first `pools` of them,
  then one dense layer: the paper's feature extractors ({64, 96, 64, 8} filters and 3 pools for
  SVHN, {32, 32, 16} and 3 pools for MNIST), ending in a 10-d bottleneck (the classifiers) or
  the mean and log-variance of a 20-d latent (JADE).
- `MirrorDecoder`: the CNN backwards, 2x nearest upsampling in place of each pool ("a decoder
  that identically mirrors the corresponding CNN").
- `DropoutMLP`: the shared classifier, 3 x (500 FC, ReLU, Dropout 0.5) and a 10-way linear layer
  (softmax in the loss). Its dropout masks come from an explicit key (None: no dropout).
- `JadeModel`: one of the three set-ups, `variant` "single" (primary CNN -> bottleneck -> MLP),
  "paired" (both CNNs -> bottlenecks -> one shared MLP) or "jade" (two VAEs whose first
  `content_dim` latent dimensions feed the shared MLP, all of them the decoder).

Images are upsampled (nearest) to `image_size` before the CNN, so small images (the 8x8 digits)
take the paper's three pools with room to spare; decoders produce images at that size.

One departure: `JadeModel`'s CNNs end on a linear convolution (no ReLU before the dense layer).
With the paper's ReLU there, all 8 channels of the primary CNN's last convolution were dead after
100 JADE steps (restyled digits, Adam 1e-3): the KL terms pull the posterior to the prior, a dead
layer gives exactly that, and no gradient revives it, so the encoder stayed constant. The
baselines use the same CNNs, so all three variants differ only in what the paper changes.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.models.layers import Conv3x3
from disentax.objectives.elbo import likelihood_params

__all__ = ["DropoutMLP", "JadeModel", "MirrorDecoder", "PoolCNN", "VARIANTS", "max_pool_2x2", "upsample_nearest"]

VARIANTS = ("jade", "single", "paired")


def max_pool_2x2(h):
    """2x2 max-pool, stride 2, of [B, H, W, C] with H, W even (a reshape: no windowed reduction,
    whose gradient XLA:CPU runs slowly)."""
    b, hh, ww, c = h.shape
    return h.reshape(b, hh // 2, 2, ww // 2, 2, c).max(axis=(2, 4))


def upsample_nearest(h, factor: int):
    """[B, H, W, C] -> [B, factor H, factor W, C], each pixel repeated factor x factor times."""
    if factor == 1:
        return h
    return jnp.repeat(jnp.repeat(h, factor, axis=1), factor, axis=2)


class PoolCNN(nn.Module):
    """x [B, H, W, C] -> [B, out_dim]: Conv3x3(c)+ReLU for c in `channels` (the last one linear
    unless `last_relu`), a 2x2 max-pool after each of the first `pools` convolutions, flatten,
    Dense(out_dim)."""

    channels: Sequence[int]
    pools: int
    out_dim: int
    last_relu: bool = True  # JadeModel's: False (module docstring)

    @nn.compact
    def __call__(self, x):
        h = x
        n = len(self.channels)
        for i, c in enumerate(self.channels):
            h = Conv3x3(int(c), name=f"Conv_{i}")(h)
            h = nn.relu(h) if i < n - 1 or self.last_relu else h
            if i < self.pools:
                h = max_pool_2x2(h)
        return nn.Dense(self.out_dim)(h.reshape(h.shape[0], -1))


class MirrorDecoder(nn.Module):
    """z [B, D] -> decoder output [B, S, S, C·P]: `PoolCNN(channels, pools)` run backwards.

    Dense(ReLU) to the map the CNN's last convolution (or pool) gave, then, for each encoder layer
    from the last: a pool becomes a 2x nearest upsampling, convolution i becomes a Conv3x3 back to
    the width of its input (channels[i-1], ReLU), the first one to the image's C·P channels
    (likelihood parameters, no activation).
    """

    channels: Sequence[int]
    pools: int
    image_shape: Sequence[int]  # (S, S, C) at the model's resolution
    likelihood: str = "bernoulli"

    @nn.compact
    def __call__(self, z):
        size, _, out = self.image_shape
        n = len(self.channels)
        base = size // 2 ** self.pools
        h = nn.relu(nn.Dense(base * base * int(self.channels[-1]))(z)).reshape(z.shape[0], base, base, -1)
        if self.pools == n:  # the CNN ended on a pool: undo it first
            h = upsample_nearest(h, 2)
        for i in reversed(range(n)):
            width = int(self.channels[i - 1]) if i else out * likelihood_params(self.likelihood)
            h = Conv3x3(width, name=f"Conv_{n - 1 - i}")(h)
            if i:
                h = nn.relu(h)
                if i - 1 < self.pools:  # convolution i read a pooled map
                    h = upsample_nearest(h, 2)
        return h


class DropoutMLP(nn.Module):
    """h [B, F] -> logits [B, num_classes]: Dense(w)+ReLU+Dropout(rate) for w in `hidden`, then a
    linear layer. `key` draws the dropout masks (inverted dropout: kept units scaled 1/(1-rate));
    key None is the test-time network (no dropout)."""

    hidden: Sequence[int] = (500, 500, 500)
    rate: float = 0.5
    num_classes: int = 10

    @nn.compact
    def __call__(self, h, key=None):
        keys = [None] * len(self.hidden) if key is None else list(jax.random.split(key, len(self.hidden)))
        for w, k in zip(self.hidden, keys):
            h = nn.relu(nn.Dense(int(w))(h))
            if k is not None and self.rate > 0:
                keep = jax.random.bernoulli(k, 1.0 - self.rate, h.shape)
                h = jnp.where(keep, h / (1.0 - self.rate), 0.0)
        return nn.Dense(self.num_classes)(h)


class JadeModel(nn.Module):
    """JADE or one of its baselines (module docstring).

    `__call__(x, y, key)` is the training forward pass on a batch of pairs; `encode_primary`,
    `classify_primary` and `classify_secondary` are the test-time networks (posterior means, no
    dropout). For "single" the secondary images are ignored.
    """

    variant: str = "jade"
    primary_shape: Sequence[int] = (8, 8, 3)
    secondary_shape: Sequence[int] = (8, 8, 1)
    image_size: int = 16
    primary_channels: Sequence[int] = (64, 96, 64, 8)
    primary_pools: int = 3
    secondary_channels: Sequence[int] = (32, 32, 16)
    secondary_pools: int = 3
    content_dim: int = 10
    style_dim: int = 10
    classifier_hidden: Sequence[int] = (500, 500, 500)
    dropout: float = 0.5
    num_classes: int = 10
    likelihood: str = "bernoulli"

    def setup(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown JADE variant {self.variant!r}; allowed: {', '.join(VARIANTS)}")
        jade = self.variant == "jade"
        code = 2 * (self.content_dim + self.style_dim) if jade else self.content_dim
        self.primary_encoder = PoolCNN(tuple(self.primary_channels), self.primary_pools, code, last_relu=False)
        if self.variant != "single":
            self.secondary_encoder = PoolCNN(tuple(self.secondary_channels), self.secondary_pools, code, last_relu=False)
        if jade:
            s = int(self.image_size)
            self.primary_decoder = MirrorDecoder(tuple(self.primary_channels), self.primary_pools,
                                                 (s, s, int(self.primary_shape[-1])), self.likelihood)
            self.secondary_decoder = MirrorDecoder(tuple(self.secondary_channels), self.secondary_pools,
                                                   (s, s, int(self.secondary_shape[-1])), self.likelihood)
        self.classifier = DropoutMLP(tuple(self.classifier_hidden), float(self.dropout), int(self.num_classes))

    def upsample(self, x):
        """x at the model's resolution `image_size` (nearest)."""
        return upsample_nearest(x, int(self.image_size) // int(x.shape[1]))

    def _encode(self, encoder, x):
        out = encoder(self.upsample(x))
        if self.variant != "jade":
            return out  # the bottleneck features
        mu, logvar = jnp.split(out, 2, axis=-1)
        return mu, logvar

    def encode_primary(self, x):
        """jade: (mean, logvar) [B, content + style] of q(z2, z1 | x); else the bottleneck [B, content]."""
        return self._encode(self.primary_encoder, x)

    def encode_secondary(self, y):
        return self._encode(self.secondary_encoder, y)

    def _content(self, code):
        return code[0][:, : self.content_dim] if self.variant == "jade" else code

    def classify_primary(self, x):
        """Test-time logits of the primary domain: the classifier at the content mean, no dropout."""
        return self.classifier(self._content(self.encode_primary(x)))

    def classify_secondary(self, y):
        return self.classifier(self._content(self.encode_secondary(y)))

    def __call__(self, x, y, key):
        k_x, k_y, k_dx, k_dy = jax.random.split(key, 4)
        if self.variant != "jade":
            out = {"logits_x": self.classifier(self.encode_primary(x), k_dx)}
            if self.variant == "paired":
                out["logits_y"] = self.classifier(self.encode_secondary(y), k_dy)
            return out
        out = {}
        for d, images, k_z, k_drop in (("x", x, k_x, k_dx), ("y", y, k_y, k_dy)):
            mu, logvar = self._encode(self.primary_encoder if d == "x" else self.secondary_encoder, images)
            z = dist.gaussian_sample(k_z, mu, logvar)
            decoder = self.primary_decoder if d == "x" else self.secondary_decoder
            out.update({f"mu_{d}": mu, f"logvar_{d}": logvar, f"{d}_out": decoder(z),
                        f"logits_{d}": self.classifier(z[:, : self.content_dim], k_drop)})
        return out

    def decode_primary(self, z):
        """Decoder output of p(x | z) at the model's resolution."""
        return self.primary_decoder(z)
