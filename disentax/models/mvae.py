"""The Multi-Entity VAE (Nash et al. 2017, Sec. 2, 2.1 and Appendix A) as Flax modules.

Encoder: convolutions with max-pooling, two channels of relative x, y coordinates appended to the
feature map, then two convolutions to a spatial grid of candidate diagonal-Gaussian posteriors
(`2 * object_dim` channels, 24 = 2 x 12 in the paper). Every grid cell is one candidate object.

Selection ("maximal information attention", Sec. 2.1): the KL of each candidate to N(0, I) is
computed and the top-N candidates by KL become the N object posteriors
(`disentax.objectives.multi_entity.select_top_n`).

Decoder: a shared object network g (dense layers -> reshape to a feature map -> convolutions
with bilinear upsampling) applied to every object latent, a symmetric pooling over objects
(element-wise sum or max), and a renderer h (convolutions with bilinear upsampling) to Bernoulli
logits. Because g is shared and the pooling is symmetric, the decoder is invariant to permuting
the object latents by construction.

ELU non-linearities throughout (Appendix A).
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.objectives.multi_entity import candidate_kl, select_top_n

POOLINGS = ("sum", "max")


def coordinate_channels(batch: int, height: int, width: int, dtype=jnp.float32):
    """Two channels [B, H, W, 2] holding the relative x and y coordinate of each cell in [-1, 1]."""
    ys = jnp.linspace(-1.0, 1.0, height, dtype=dtype)
    xs = jnp.linspace(-1.0, 1.0, width, dtype=dtype)
    grid = jnp.stack(jnp.meshgrid(xs, ys, indexing="xy"), axis=-1)  # [H, W, 2] (x, y)
    return jnp.broadcast_to(grid, (batch, height, width, 2))


def upsample2(h):
    """Bilinear upsampling by a factor of two in height and width."""
    b, height, width, c = h.shape
    return jax.image.resize(h, (b, 2 * height, 2 * width, c), method="bilinear")


class CandidateEncoder(nn.Module):
    """Image [B, H, W, C] -> candidate posteriors (mu, logvar), each [B, S, D] with S = grid cells.

    `channels[i]` 3x3 convolutions, each followed by a `pools[i]` x `pools[i]` max-pool (1 = none);
    relative coordinates appended; a 3x3 convolution of `head_channels`; a 1x1 convolution to 2D.
    With `flat_dim` set, the grid is instead flattened and projected linearly to one
    `flat_dim`-dimensional Gaussian (the matched standard VAE of Appendix A), shape [B, 1, flat_dim].
    """

    object_dim: int = 12
    channels: Sequence[int] = (32, 32, 64, 64)
    pools: Sequence[int] = (2, 2, 2, 1)
    head_channels: int = 64
    flat_dim: int = 0

    @nn.compact
    def __call__(self, x):
        if len(self.channels) != len(self.pools):
            raise ValueError(f"encoder channels {tuple(self.channels)} and pools {tuple(self.pools)} must have equal length")
        h = x
        for c, p in zip(self.channels, self.pools):
            h = nn.elu(nn.Conv(c, (3, 3), padding="SAME")(h))
            if p > 1:
                h = nn.max_pool(h, (p, p), strides=(p, p))
        b, height, width, _ = h.shape
        h = jnp.concatenate([h, coordinate_channels(b, height, width, h.dtype)], axis=-1)
        h = nn.elu(nn.Conv(self.head_channels, (3, 3), padding="SAME")(h))
        if self.flat_dim:
            out = nn.Dense(2 * self.flat_dim)(h.reshape(b, -1))[:, None, :]
        else:
            out = nn.Conv(2 * self.object_dim, (1, 1))(h).reshape(b, height * width, 2 * self.object_dim)
        mu, logvar = jnp.split(out, 2, axis=-1)
        return mu, logvar


class ObjectDecoder(nn.Module):
    """Object latents [B, N, D] -> decoder parameters [B, H, W, C].

    g: Dense(hidden)... -> Dense(prod(map_shape)) -> reshape to `map_shape` -> for each of
    `g_channels`: bilinear x2 upsampling then 3x3 conv. Pool over N (sum or max). h: for each
    of `h_channels` a 3x3 conv, then bilinear x2 upsampling and a final 3x3 conv to C outputs.
    """

    image_shape: Sequence[int] = (64, 64, 3)
    g_hidden: Sequence[int] = (256,)
    map_shape: Sequence[int] = (8, 8, 16)
    g_channels: Sequence[int] = (32, 32)
    h_channels: Sequence[int] = (32, 32)
    pooling: str = "max"
    out_per_channel: int = 1

    def setup(self):
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; allowed: {list(POOLINGS)}")
        mh, mw, _ = self.map_shape
        height, width, _ = self.image_shape
        scale = 2 ** (len(self.g_channels) + 1)
        if mh * scale != height or mw * scale != width:
            raise ValueError(
                f"map_shape {tuple(self.map_shape)} upsampled by 2**{len(self.g_channels) + 1} "
                f"must give the image size {height}x{width}"
            )
        self.g_dense = [nn.Dense(w) for w in self.g_hidden] + [nn.Dense(mh * mw * self.map_shape[2])]
        self.g_convs = [nn.Conv(c, (3, 3), padding="SAME") for c in self.g_channels]
        self.h_convs = [nn.Conv(c, (3, 3), padding="SAME") for c in self.h_channels]
        self.h_out = nn.Conv(self.image_shape[2] * self.out_per_channel, (3, 3), padding="SAME")

    def objects(self, z):
        """The shared object network g: [B, N, D] -> object feature maps [B, N, h, w, c]."""
        b, n, d = z.shape
        h = z.reshape(b * n, d)
        for layer in self.g_dense:
            h = nn.elu(layer(h))
        h = h.reshape(b * n, *self.map_shape)
        for conv in self.g_convs:
            h = nn.elu(conv(upsample2(h)))
        return h.reshape(b, n, *h.shape[1:])

    def pool(self, o):
        """Symmetric aggregation over the object axis (axis 1)."""
        return jnp.sum(o, axis=1) if self.pooling == "sum" else jnp.max(o, axis=1)

    def render(self, pooled):
        """The renderer h: pooled feature map -> decoder parameters [B, H, W, C * P]."""
        h = pooled
        for conv in self.h_convs:
            h = nn.elu(conv(h))
        return self.h_out(upsample2(h))

    def __call__(self, z):
        return self.render(self.pool(self.objects(z)))


class MVAE(nn.Module):
    """Candidate encoder + top-N selection + permutation-invariant object decoder.

    `__call__(x, key)` returns a dict: `cand_mu`, `cand_logvar` [B, S, D] (all candidates),
    `kl_map` [B, S] (KL of each candidate), `mu`, `logvar` [B, N, D] (selected, in descending KL
    order), `kl` [B, N], `index` [B, N] (grid cell of each selected candidate), `z` [B, N, D], `out`.
    """

    encoder: CandidateEncoder
    decoder: ObjectDecoder
    num_objects: int = 5

    def encode(self, x):
        """(mu, logvar, kl, index) of the top-N candidates plus the full KL map."""
        cand_mu, cand_logvar = self.encoder(x)
        return select_top_n(cand_mu, cand_logvar, self.num_objects) + (cand_kl_map(cand_mu, cand_logvar),)

    def encode_candidates(self, x):
        return self.encoder(x)

    def decode(self, z):
        """Object latents [B, n, D] (any n >= 1) -> decoder output."""
        return self.decoder(z)

    def __call__(self, x, key):
        cand_mu, cand_logvar = self.encoder(x)
        mu, logvar, kl, index = select_top_n(cand_mu, cand_logvar, self.num_objects)
        z = dist.gaussian_sample(key, mu, logvar)
        return {
            "cand_mu": cand_mu,
            "cand_logvar": cand_logvar,
            "kl_map": cand_kl_map(cand_mu, cand_logvar),
            "mu": mu,
            "logvar": logvar,
            "kl": kl,
            "index": index,
            "z": z,
            "out": self.decoder(z),
        }


def cand_kl_map(cand_mu, cand_logvar):
    return candidate_kl(cand_mu, cand_logvar)


class FlatVAE(nn.Module):
    """The matched standard VAE of Nash et al. (2017), Appendix A: the MVAE encoder projected
    linearly to one `latent_dim` Gaussian, decoded by g then h (a single 'object', so pooling is the
    identity)."""

    encoder: CandidateEncoder
    decoder: ObjectDecoder

    def encode(self, x):
        mu, logvar = self.encoder(x)
        return mu[:, 0], logvar[:, 0]

    def decode(self, z):
        return self.decoder(z[:, None, :])

    def __call__(self, x, key):
        mu, logvar = self.encode(x)
        z = dist.gaussian_sample(key, mu, logvar)
        return {"mu": mu, "logvar": logvar, "z": z, "out": self.decode(z)}


def build_mvae(arch, likelihood: str, image_shape, *, flat_dim: int = 0):
    """The MVAE from `arch` (a method's config group: num_objects, object_dim, enc_channels,
    enc_pools, head_channels, g_hidden, map_shape, g_channels, h_channels, pooling), or with
    `flat_dim` > 0 the matched standard VAE with one Gaussian of `flat_dim` dimensions."""
    out_per_channel = 2 if likelihood == "logistic" else 1
    enc = CandidateEncoder(
        object_dim=int(arch.object_dim) if not flat_dim else 1, channels=tuple(arch.enc_channels),
        pools=tuple(arch.enc_pools), head_channels=int(arch.head_channels), flat_dim=int(flat_dim),
    )
    dec = ObjectDecoder(
        image_shape=tuple(image_shape), g_hidden=tuple(arch.g_hidden), map_shape=tuple(arch.map_shape),
        g_channels=tuple(arch.g_channels), h_channels=tuple(arch.h_channels), pooling=arch.pooling,
        out_per_channel=out_per_channel,
    )
    if flat_dim:
        return FlatVAE(encoder=enc, decoder=dec)
    return MVAE(encoder=enc, decoder=dec, num_objects=int(arch.num_objects))
