"""Generators and discriminators on images for adversarial models.

DCGAN (Radford, Metz & Chintala 2016, "Unsupervised representation learning with deep
convolutional generative adversarial networks", Sec. 3 and Fig. 1): the generator projects z
with one dense layer to a 4x4 map, then doubles the resolution with stride-2 4x4 transposed
convolutions while halving the channels; BatchNorm and ReLU everywhere except the output, which
is tanh. The discriminator mirrors it with stride-2 4x4 convolutions, LeakyReLU(0.2), BatchNorm
on every layer but the first, and one sigmoid output (here a logit). All weights are drawn from
N(0, 0.02) as in the paper. Images in disentax lie in [0, 1], so the generator returns
(tanh(a) + 1) / 2 rather than tanh(a). For 64x64 images the 4x4 map has base * 8 channels; in
general an image of side H takes log2(H / 4) stride-2 layers whose widths run base, base * 2,
..., so the 4x4 map has base * 2**(log2(H / 4) - 1) channels.

`DCGANDiscriminator(batch_norm=False)` is a WGAN-GP critic (Gulrajani et al. 2017, "Improved
training of Wasserstein GANs", Sec. 4): the gradient penalty is taken per example, which batch
normalisation breaks by mixing the examples of a batch. They suggest layer normalisation as a
replacement; here the critic has no normalisation at all.

`SiameseDiscriminator` is the SD-DCGAN discriminator of Donahue, Lipton, Balsubramani & McAuley
(2018, "Semantically decomposing the latent spaces of generative adversarial networks", Sec. 3):
the DCGAN trunk encodes both images of a pair, the two feature maps are stacked along channels
and one more strided convolution and a dense layer score whether the pair shows the same identity.

`Expert`, `ExpertCommittee` and `ICMDiscriminator` are the networks of Parascandolo, Kilbertus,
Rojas-Carulla & Schölkopf (2018, "Learning independent causal mechanisms", Table 1): every expert
is a resolution-preserving convolutional network mapping a transformed image back to the
canonical one, and the discriminator scores images as canonical or not.

The stride-2 layers are `disentax.models.layers.Up` / `Down`: the functions (and parameter trees)
of `nn.ConvTranspose` / `nn.Conv` with 4x4 kernels, stride 2 and SAME padding, computed in the way
`impl` names ("auto": the fastest on the current backend, as `build_vae` chooses for the VAE).
The 3x3 convolutions of the ICM networks are `layers.Conv3x3` (`nn.Conv`'s function and
parameters; on CPU one GEMM, because XLA:CPU runs the vmapped committee's convolutions as grouped
ones, about 20x slower in the backward pass).
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from disentax.models import layers
from disentax.models.layers import Down, Up

# "All weights were initialized from a zero-centered Normal distribution with standard deviation
# 0.02" (Radford et al. 2016, Sec. 4).
DCGAN_INIT = nn.initializers.normal(0.02)
LEAKY_SLOPE = 0.2


# Layers followed by a batch norm have no bias: the norm subtracts it again, so its gradient is
# rounding noise, which Adam's normalisation turns into steps of the full learning rate (it made
# 8-device and 1-device runs differ by the learning rate itself).


def _batch_norm(train: bool) -> nn.BatchNorm:
    # momentum 0.9 and epsilon 1e-5: Torch's BatchNorm defaults (its momentum 0.1 is the weight
    # of the new batch in the running averages, Flax's 0.9 that of the old ones).
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


def num_stride2_layers(height: int, width: int) -> int:
    """log2(H / 4): the stride-2 layers between a 4x4 map and a square H x W image, H = 2**k >= 8."""
    if height != width or height < 8 or height & (height - 1):
        raise ValueError(f"DCGAN networks need square images with a power-of-two side >= 8, got {height}x{width}")
    return height.bit_length() - 3


class DCGANGenerator(nn.Module):
    """z [B, latent_dim] -> Dense -> 4x4 map -> log2(H/4) x ConvTranspose(4x4, stride 2) -> [B, H, W, C] in [0, 1]."""

    latent_dim: int
    image_shape: Sequence[int] = (64, 64, 3)
    base: int = 64
    # How each transposed convolution is computed (disentax.models.layers.UPSAMPLE, or "auto").
    impl: str = "auto"

    @nn.compact
    def __call__(self, z, train: bool):
        height, width, channels = self.image_shape
        n_up = num_stride2_layers(height, width)
        impl = layers.resolve("upsample", self.impl, layers.UPSAMPLE, layers.default_upsample)
        width_4x4 = self.base * 2 ** (n_up - 1)
        # Biases before BatchNorm are inert (its mean subtraction cancels them, so their gradient
        # is zero in training); they are kept so the tree is that of nn.Dense / nn.ConvTranspose.
        h = nn.Dense(4 * 4 * width_4x4, kernel_init=DCGAN_INIT, use_bias=False, name="Dense_0")(z)
        h = h.reshape(z.shape[0], 4, 4, width_4x4)
        h = nn.relu(_batch_norm(train)(h))
        for i in range(n_up - 1):
            h = Up(width_4x4 // 2 ** (i + 1), impl=impl, kernel_init=DCGAN_INIT, use_bias=False,
                   name=f"ConvTranspose_{i}")(h)
            h = nn.relu(_batch_norm(train)(h))
        # No BatchNorm on the output layer (Radford et al. 2016, Sec. 3: it caused sample
        # oscillation and instability).
        a = Up(channels, impl=impl, kernel_init=DCGAN_INIT, name=f"ConvTranspose_{n_up - 1}")(h)
        return (jnp.tanh(a) + 1) / 2


class DCGANTrunk(nn.Module):
    """x [B, H, W, C] -> log2(H/4) x [Conv(4x4, stride 2), (BatchNorm), LeakyReLU(0.2)] -> [B, 4, 4, base * 2**(n-1)].

    The convolutional part of `DCGANDiscriminator`, shared by `SiameseDiscriminator`. Channels
    base, base * 2, ...; BatchNorm on all but the first layer (Radford et al. 2016, Sec. 3: not on
    the discriminator's input layer) when `batch_norm`.
    """

    base: int = 64
    impl: str = "auto"
    batch_norm: bool = True

    @nn.compact
    def __call__(self, x, train: bool):
        n_down = num_stride2_layers(x.shape[1], x.shape[2])
        impl = layers.resolve("downsample", self.impl, layers.DOWNSAMPLE, layers.default_downsample)
        h = x
        for i in range(n_down):
            normed = self.batch_norm and i > 0
            h = Down(self.base * 2**i, impl=impl, kernel_init=DCGAN_INIT, use_bias=not normed, name=f"Conv_{i}")(h)
            if normed:
                h = _batch_norm(train)(h)
            h = nn.leaky_relu(h, negative_slope=LEAKY_SLOPE)
        return h


class DCGANDiscriminator(nn.Module):
    """x [B, H, W, C] -> `DCGANTrunk` -> flatten -> Dense(1) -> logits [B].

    For 64x64 images `features` is [B, 4, 4, base * 8]. `batch_norm=False` gives the WGAN-GP critic.
    """

    base: int = 64
    # How each strided convolution is computed (disentax.models.layers.DOWNSAMPLE, or "auto").
    impl: str = "auto"
    batch_norm: bool = True

    def setup(self):
        self.trunk = DCGANTrunk(self.base, self.impl, self.batch_norm)
        self.head = nn.Dense(1, kernel_init=DCGAN_INIT)

    def features(self, x, train: bool):
        """The trunk's last feature map [B, 4, 4, channels]."""
        return self.trunk(x, train)

    def __call__(self, x, train: bool):
        h = self.features(x, train)
        return self.head(h.reshape(h.shape[0], -1))[:, 0]


class SiameseDiscriminator(nn.Module):
    """(x1, x2) [B, H, W, C] each -> shared `DCGANTrunk` -> channel stack -> Conv(4x4, stride 2, base * 8)
    -> LeakyReLU(0.2) -> Dense(1) -> logits [B]: does the pair show the same identity (Donahue et al. 2018)."""

    base: int = 64
    impl: str = "auto"

    @nn.compact
    def __call__(self, x1, x2, train: bool):
        if x1.shape != x2.shape:
            raise ValueError(f"the two images of a pair must have the same shape, got {x1.shape} and {x2.shape}")
        impl = layers.resolve("downsample", self.impl, layers.DOWNSAMPLE, layers.default_downsample)
        # One trunk call on both halves rather than two calls: the two branches must be the same
        # function. In training two calls would normalise each half by its own batch statistics
        # (and move the running averages twice per step); one call normalises both by the
        # statistics of the whole 2B batch, as in eval mode both use the same running averages.
        # One call is also one larger convolution instead of two.
        h = DCGANTrunk(self.base, impl, name="trunk")(jnp.concatenate([x1, x2], axis=0), train)
        h1, h2 = jnp.split(h, 2, axis=0)
        h = jnp.concatenate([h1, h2], axis=-1)
        h = nn.leaky_relu(Down(self.base * 8, impl=impl, kernel_init=DCGAN_INIT, name="Conv_0")(h),
                          negative_slope=LEAKY_SLOPE)
        return nn.Dense(1, kernel_init=DCGAN_INIT, name="Dense_0")(h.reshape(h.shape[0], -1))[:, 0]


class Expert(nn.Module):
    """x [B, H, W, C] -> num_layers x [Conv(3x3, features), BatchNorm, ELU] -> Conv(3x3, C) -> sigmoid -> [B, H, W, C].

    Parascandolo et al. (2018), Table 1: SAME padding (one pixel of zeros for a 3x3 kernel) keeps
    the resolution, so an expert maps an image to an image of the same shape in [0, 1].
    """

    features: int = 32
    num_layers: int = 4

    @nn.compact
    def __call__(self, x, train: bool):
        h = x
        for i in range(self.num_layers):  # nn.Conv's names: the same trees and seeded initialisations
            h = layers.Conv3x3(self.features, use_bias=False, name=f"Conv_{i}")(h)
            h = nn.elu(_batch_norm(train)(h))
        return nn.sigmoid(layers.Conv3x3(x.shape[-1], name=f"Conv_{self.num_layers}")(h))


class ExpertCommittee(nn.Module):
    """num_experts `Expert`s as one stacked network: every parameter and batch statistic has a leading
    axis of length num_experts (each expert initialised from its own key).

    `__call__(x [B, H, W, C], train)` applies every expert to the same batch; `apply_each(xs
    [N, B, H, W, C], train)` applies expert i to xs[i] (e.g. the identity pre-training, where each
    expert sees its own examples). Both use the same variables, so either can initialise them.
    Outputs are [N, B, H, W, C]; in training each expert normalises by the statistics of the batch
    it sees.
    """

    num_experts: int = 10
    features: int = 32
    num_layers: int = 4

    def setup(self):
        self.expert = Expert(self.features, self.num_layers)

    def _stacked(self, x, train: bool, in_axis):
        # One vmapped network rather than a Python loop over N modules: one convolution per layer
        # for all experts, and a stacked tree that slices into the i-th expert's variables.
        # `train` is closed over so BatchNorm sees a Python bool, not a traced value.
        stacked = nn.vmap(
            lambda expert, x: expert(x, train),
            variable_axes={"params": 0, "batch_stats": 0},
            split_rngs={"params": True},
            in_axes=in_axis,
            axis_size=self.num_experts,
        )
        return stacked(self.expert, x)

    def __call__(self, x, train: bool):
        return self._stacked(x, train, None)

    def apply_each(self, xs, train: bool):
        if xs.shape[0] != self.num_experts:
            raise ValueError(f"apply_each needs one batch per expert: leading axis {self.num_experts}, got {xs.shape}")
        return self._stacked(xs, train, 0)


class ICMDiscriminator(nn.Module):
    """x [B, H, W, C] -> 3 x [Conv(3x3, 16), ELU] -> avg pool -> 2 x [Conv(3x3, 32), ELU] -> avg pool
    -> 2 x [Conv(3x3, 64), ELU] -> avg pool -> Dense(1024) -> ELU -> Dense(1) -> logits [B].

    Parascandolo et al. (2018), Table 1 (the sigmoid of its last layer is left to the loss); `widths`
    and `hidden` change the channels of the three blocks and the dense layer (smaller ones for tests
    and CPU previews). No batch normalisation there; `train` is accepted for the signature the
    other networks share. The 2x2 pools have stride 2 and drop an odd last row/column (28 -> 14 -> 7 -> 3).
    """

    widths: Sequence[int] = (16, 32, 64)
    hidden: int = 1024

    @nn.compact
    def __call__(self, x, train: bool = False):
        del train
        if len(self.widths) != 3:
            raise ValueError(f"ICMDiscriminator has three conv blocks (3, 2 and 2 layers): widths needs 3 entries, "
                             f"got {tuple(self.widths)}")
        h = x
        n = 0  # the names nn.Conv gave these layers, so trees and seeded initialisations stay as they were
        for width, depth in zip(self.widths, (3, 2, 2)):
            for _ in range(depth):
                h = nn.elu(layers.Conv3x3(int(width), name=f"Conv_{n}")(h))
                n += 1
            h = nn.avg_pool(h, (2, 2), strides=(2, 2))
        h = nn.elu(nn.Dense(int(self.hidden))(h.reshape(h.shape[0], -1)))
        return nn.Dense(1)(h)[:, 0]
