"""The networks of a sequential VAE whose latent factors evolve independently.

Whitney & Fergus (2018), "Disentangling video with independent prediction", Table 1 and App. A.
Each frame x_t has latents Z_t = (z_t^1, ..., z_t^k), k factors of d dimensions (z_dim = k·d):

- `FrameEncoder`, the image half of q(Z_t | Z_{t−1}, x_t): a DCGAN discriminator trunk (Radford et
  al. (2016)): four 4x4 stride-2 convolutions 3→64→128→256→512, each with batch norm and leaky ReLU,
  then a 4x4 VALID convolution 512→32 (on the 4x4 map: one dense layer of the flattened map, the
  same function and parameter count). It does not depend on Z, so a whole clip is one call.
- `Combiner`, the rest of q: Linear(32→z_dim) of the image features, Linear(z_dim→z_dim) of the
  predicted prior mean and of its σ, Linear(3·z_dim→z_dim) of the three, then the heads μ and
  log σ². App. A: the inference network gets the *prediction* p(Z_t | Z_{t−1}), not Z_{t−1}.
- `FactorTransitions`, p(z_t^i | z_{t−1}^i): one MLP per factor, Linear(d→128), 3 × Linear(128→128),
  Linear(128→2d) (mean and log σ²), SELU (Klambauer et al. (2017)). The k MLPs are ONE stacked
  network (`nn.vmap` over a factor axis, k parameter sets), so Z_{t−1} → p(Z_t | Z_{t−1}) is one
  call, block-diagonal by construction: factor i's prediction reads only z_{t−1}^i. The entangled
  baseline of Sec. 3 is the same module with k = 1 and d = k·d: one MLP over all of Z.
- `FrameGenerator`, p(x_t | Z_t): Linear(z_dim→z_dim), a 4x4 stride-1 transposed convolution
  z_dim→512 from a 1x1 map (a dense layer to a 4x4x512 map: the same function), then 4x4
  stride-2 transposed convolutions 512→256→128→64→3, batch norm and ReLU on all but the last. The
  output is the pixel mean of a Gaussian of fixed variance (`disentax.objectives.sequential`).

App. A vs Table 1: Table 1 gives the transition as MLP(d→128, 128→128, 128→d) with d the whole
latent size; App. A gives the per-factor five-layer SELU network with 2·latent_dim outputs. We
follow App. A, the detailed listing, which also matches the factorisation of Sec. 2.

Where App. A leaves a detail open (choices, see the method module for the rest):
- activations: "each layer is followed by" leaky ReLU / SELU / ReLU is read as every layer but the
  output ones: the posterior heads (μ, log σ²), the transition's last layer (a SELU there would
  bound the predicted mean and log σ² below by −1.76) and the generator's last layer, whose output
  goes through a sigmoid so the pixel mean lies in [0, 1] like the data;
- the encoder's 512→32 layer is followed by leaky ReLU like the others, and the first encoder
  convolution keeps the batch norm App. A lists (the DCGAN paper has none there);
- σ of the prior, the combiner's input, is the standard deviation exp(½ log σ²) (App. A names it
  sigma and calls it a variance vector); at t = 1 both inputs are zeros (App. A);
- convolutions start from N(0, 0.02) (Radford et al. (2016), Sec. 4), dense layers from Flax's
  LeCun normal, the initialisation SELU networks assume (Klambauer et al. (2017));
- batch norm momentum 0.9 / ε 1e-5 (App. A lists Torch's momentum 0.1, ε 1e-5: the same averages).

Widths are fields, so tests build the same networks a few channels wide.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax.models import layers
from disentax.models.gan import DCGAN_INIT, LEAKY_SLOPE
from disentax.models.layers import Down, Up

__all__ = ["Combiner", "FactorTransitions", "FrameEncoder", "FrameGenerator", "SequentialVAE", "TransitionMLP"]


def _batch_norm(train: bool) -> nn.BatchNorm:
    # Torch's defaults, App. A's listing (its momentum 0.1 weighs the new batch, Flax's 0.9 the old averages).
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


def _stride2_layers(height: int, width: int, widths: Sequence[int]) -> None:
    n = len(widths)
    if height != width or height != 4 * 2**n:
        raise ValueError(f"the DCGAN encoder/generator with {n} stride-2 layers needs square {4 * 2**n}x{4 * 2**n} "
                         f"frames (a 4x4 map at the end), got {height}x{width}")


class FrameEncoder(nn.Module):
    """frames [N, H, W, C] -> features [N, features]: the DCGAN image encoder of App. A."""

    widths: Sequence[int] = (64, 128, 256, 512)
    features: int = 32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x, train: bool):
        _stride2_layers(x.shape[1], x.shape[2], self.widths)
        impl = layers.resolve("downsample", self.impl, layers.DOWNSAMPLE, layers.default_downsample)
        h = x
        for i, w in enumerate(self.widths):
            # No bias before a batch norm: the norm subtracts it (see disentax.models.gan).
            h = Down(int(w), impl=impl, kernel_init=DCGAN_INIT, use_bias=False, name=f"Conv_{i}")(h)
            h = nn.leaky_relu(_batch_norm(train)(h), negative_slope=LEAKY_SLOPE)
        # Conv(4x4, VALID) on the 4x4 map = one dense layer of the flattened map.
        h = nn.Dense(int(self.features), kernel_init=DCGAN_INIT, name="Conv_last")(h.reshape(h.shape[0], -1))
        return nn.leaky_relu(h, negative_slope=LEAKY_SLOPE)


class Combiner(nn.Module):
    """(features [N, F], prior mean [N, z_dim], prior σ [N, z_dim]) -> posterior (mean, log σ²) [N, z_dim]."""

    z_dim: int

    @nn.compact
    def __call__(self, features, prior_mean, prior_std):
        act = lambda h: nn.leaky_relu(h, negative_slope=LEAKY_SLOPE)  # noqa: E731
        z = int(self.z_dim)
        h = jnp.concatenate([act(nn.Dense(z, name="x")(features)), act(nn.Dense(z, name="mu")(prior_mean)),
                             act(nn.Dense(z, name="sigma")(prior_std))], -1)
        h = act(nn.Dense(z, name="latent")(h))
        return nn.Dense(z, name="mean")(h), nn.Dense(z, name="logvar")(h)


class TransitionMLP(nn.Module):
    """z_{t−1}^i [..., d] -> (mean, log σ²) [..., d] of p(z_t^i | z_{t−1}^i): `num_hidden` SELU layers of
    `hidden` units (App. A: 4 of 128), then a linear layer to 2d."""

    factor_dim: int
    hidden: int = 128
    num_hidden: int = 4

    @nn.compact
    def __call__(self, z):
        h = z
        for i in range(int(self.num_hidden)):
            h = nn.selu(nn.Dense(int(self.hidden), name=f"Dense_{i}")(h))
        out = nn.Dense(2 * int(self.factor_dim), name="out")(h)
        return out[..., : self.factor_dim], out[..., self.factor_dim:]


class FactorTransitions(nn.Module):
    """Z_{t−1} [N, k·d] -> (mean, log σ²) [N, k·d] of Π_i p(z_t^i | z_{t−1}^i): k `TransitionMLP`s, one
    stacked network (every parameter has a leading factor axis of length k, each factor
    initialised from its own key). Factor i occupies dimensions [i·d, (i+1)·d)."""

    num_factors: int
    factor_dim: int
    hidden: int = 128
    num_hidden: int = 4

    @nn.compact
    def __call__(self, z):
        k, d = int(self.num_factors), int(self.factor_dim)
        if z.shape[-1] != k * d:
            raise ValueError(f"the transition takes Z of {k} factors x {d} dims = {k * d}, got last axis {z.shape[-1]}")
        stacked = nn.vmap(TransitionMLP, variable_axes={"params": 0}, split_rngs={"params": True},
                          in_axes=-2, out_axes=-2, axis_size=k)
        mean, logvar = stacked(d, int(self.hidden), int(self.num_hidden), name="factors")(z.reshape(*z.shape[:-1], k, d))
        return mean.reshape(z.shape), logvar.reshape(z.shape)


class FrameGenerator(nn.Module):
    """Z_t [N, z_dim] -> pixel means [N, H, W, C] in [0, 1]: the DCGAN generator of App. A."""

    widths: Sequence[int] = (512, 256, 128, 64)
    image_shape: Sequence[int] = (64, 64, 3)
    impl: str = "auto"

    @nn.compact
    def __call__(self, z, train: bool):
        height, width, channels = self.image_shape
        _stride2_layers(height, width, self.widths)
        impl = layers.resolve("upsample", self.impl, layers.UPSAMPLE, layers.default_upsample)
        h = nn.relu(nn.Dense(z.shape[-1], name="Dense_0")(z))
        w0 = int(self.widths[0])
        # ConvTranspose(4x4, stride 1) of a 1x1 map = a dense layer to the 4x4 map.
        h = nn.Dense(16 * w0, kernel_init=DCGAN_INIT, use_bias=False, name="ConvTranspose_first")(h)
        h = nn.relu(_batch_norm(train)(h.reshape(z.shape[0], 4, 4, w0)))
        for i, w in enumerate(self.widths[1:]):
            h = Up(int(w), impl=impl, kernel_init=DCGAN_INIT, use_bias=False, name=f"ConvTranspose_{i}")(h)
            h = nn.relu(_batch_norm(train)(h))
        a = Up(int(channels), impl=impl, kernel_init=DCGAN_INIT, name="ConvTranspose_last")(h)
        return jax.nn.sigmoid(a)


class SequentialVAE(nn.Module):
    """The four networks of the model; the filter over time lives in the method
    (`disentax.methods.independent_prediction`), which calls these per step:

    - `encode(frames, train) -> features` [N, F];
    - `prior(z_prev) -> (mean, logvar)` [N, z_dim], the transition;
    - `posterior(features, prior_mean, prior_std) -> (mean, logvar)`, the combiner;
    - `decode(z, train) -> pixel means` [N, H, W, C].

    `__call__(frames, train)` runs each once (to initialise every parameter).
    """

    num_factors: int = 2
    factor_dim: int = 16
    image_shape: Sequence[int] = (64, 64, 3)
    encoder_widths: Sequence[int] = (64, 128, 256, 512)
    features: int = 32
    generator_widths: Sequence[int] = (512, 256, 128, 64)
    transition_hidden: int = 128
    transition_layers: int = 4
    upsample: str = "auto"
    downsample: str = "auto"

    @property
    def z_dim(self) -> int:
        return int(self.num_factors) * int(self.factor_dim)

    def setup(self):
        self.encoder = FrameEncoder(tuple(self.encoder_widths), int(self.features), self.downsample)
        self.combiner = Combiner(self.z_dim)
        self.transition = FactorTransitions(int(self.num_factors), int(self.factor_dim), int(self.transition_hidden),
                                            int(self.transition_layers))
        self.generator = FrameGenerator(tuple(self.generator_widths), tuple(self.image_shape), self.upsample)

    def encode(self, frames, train: bool):
        return self.encoder(frames, train)

    def prior(self, z_prev):
        return self.transition(z_prev)

    def posterior(self, features, prior_mean, prior_std):
        return self.combiner(features, prior_mean, prior_std)

    def decode(self, z, train: bool):
        return self.generator(z, train)

    def __call__(self, frames, train: bool = False):
        features = self.encode(frames, train)
        zeros = jnp.zeros((frames.shape[0], self.z_dim), features.dtype)
        mean, _ = self.posterior(features, zeros, zeros)
        self.prior(mean)
        return self.decode(mean, train)
