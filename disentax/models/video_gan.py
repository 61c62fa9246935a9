"""MoCoGAN's networks: the motion model R_M, the video generator (R_M + G_I) and the video discriminator D_V.

Tulyakov, Liu, Yang & Kautz (2018), "MoCoGAN: decomposing motion and content for video generation",
Sec. 2-3: a clip of K frames is the path [z^(1), ..., z^(K)] with z^(k) = [z_C; z_M^(k)] (Eq. 1).
The content code z_C ~ N(0, I_{d_C}) is drawn once per clip; the motion codes are the outputs of a
one-layer GRU R_M driven by i.i.d. noise ε^(k) ~ N(0, I_{d_E}), z_M^(k) = R_M(k). An image
generator G_I maps each z^(k) to frame k. Two critics judge the result: an image discriminator D_I
on single frames and a video discriminator D_V, a spatio-temporal (3-D) CNN, on T consecutive frames.

Choices the paper leaves open, taken from the authors' released implementation (the repository
`sergeytulyakov/mocogan` named in the paper) unless marked "chosen":

- R_M: a GRU whose hidden state has d_M units and *is* the motion code (no linear map after it);
  its input ε has d_E dimensions (d_E = d_M = 10 there); the initial state h_0 is drawn from
  N(0, I_{d_M}) for each clip, so a clip's motion noise is (h_0, ε^(1..K)). `h0=None` starts from
  zeros. Flax's `nn.GRUCell` (its initialisers: chosen) run over time by `nn.RNN`.
- G_I: the DCGAN generator (`disentax.models.gan.DCGANGenerator`; the released one is the same
  network: a 4x4 map of base * 8 channels, stride-2 4x4 transposed convolutions, BN + ReLU,
  tanh out), applied to all B·K frames of a batch in one call (so batch norm normalises over every
  frame of every clip).
- D_V: log2(H / 4) layers of 4x4x4 convolutions with stride (1, 2, 2), no temporal padding and
  one pixel of spatial padding, widths base, 2 base, 4 base, ..., batch norm on all but the first,
  LeakyReLU(0.2); then one layer whose kernel covers the whole remaining map (for T = 16 and 64x64
  frames: 4 frames x 4 x 4, the released network's last 4x4x4 convolution) gives one logit per
  clip. A clip shorter than 3 · log2(H / 4) + 1 frames leaves no temporal extent without padding;
  `time_padding="same"` (chosen, for such clips) pads time so that it keeps its length.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from disentax.models import layers
from disentax.models.gan import DCGAN_INIT, LEAKY_SLOPE, DCGANGenerator, _batch_norm, num_stride2_layers

__all__ = ["MotionModel", "VideoDiscriminator", "VideoGenerator", "conv3d_4x4x4", "CONV3D", "TIME_PADDINGS"]

CONV3D = ("conv", "stack")
TIME_PADDINGS = ("valid", "same")
_DN3 = ("NDHWC", "DHWIO", "NDHWC")


class MotionModel(nn.Module):
    """R_M: ε [B, K, d_E] -> z_M [B, K, d_M], z_M^(k) = h_k, the state of a one-layer GRU after ε^(k)
    (Tulyakov et al. (2018), Sec. 2; the GRU as Chung et al. (2014)):

        r_k = σ(W_ir ε_k + b_ir + W_hr h_{k-1}),  u_k = σ(W_iz ε_k + b_iz + W_hz h_{k-1}),
        n_k = tanh(W_in ε_k + b_in + r_k ⊙ (W_hn h_{k-1} + b_hn)),  h_k = (1 − u_k) ⊙ n_k + u_k ⊙ h_{k-1}.

    `h0` [B, d_M] is the initial state (None: zeros).
    """

    motion_dim: int = 10

    @nn.compact
    def __call__(self, eps, h0=None):
        if eps.ndim != 3:
            raise ValueError(f"motion noise ε must be [B, K, d_E], got shape {eps.shape}")
        if h0 is None:
            h0 = jnp.zeros((eps.shape[0], self.motion_dim), eps.dtype)
        if h0.shape != (eps.shape[0], self.motion_dim):
            raise ValueError(f"initial GRU state h0 must be [B, d_M] = {(eps.shape[0], self.motion_dim)}, "
                             f"got {h0.shape}")
        return nn.RNN(nn.GRUCell(self.motion_dim, name="gru"))(eps, initial_carry=h0)


class VideoGenerator(nn.Module):
    """(z_C [B, d_C], ε [B, K, d_E], h_0 [B, d_M] or None) -> clips [B, K, H, W, C] in [0, 1].

    Frame k is G_I([z_C; R_M(k)]) (Tulyakov et al. (2018), Eq. 1 and Sec. 3); K is ε's length, so
    one generator makes clips of any length.
    """

    content_dim: int = 50
    motion_dim: int = 10
    image_shape: Sequence[int] = (64, 64, 3)
    base: int = 64
    impl: str = "auto"

    def setup(self):
        self.motion = MotionModel(self.motion_dim)
        self.image_generator = DCGANGenerator(latent_dim=self.content_dim + self.motion_dim,
                                              image_shape=tuple(self.image_shape), base=self.base, impl=self.impl)

    def latents(self, z_content, eps, h0=None):
        """[z_C; z_M^(k)] for every frame: [B, K, d_C + d_M] (Eq. 1), z_C repeated along K."""
        if z_content.shape != (eps.shape[0], self.content_dim):
            raise ValueError(f"content code z_C must be [B, d_C] = {(eps.shape[0], self.content_dim)}, "
                             f"got {z_content.shape}")
        z_m = self.motion(eps, h0)
        z_c = jnp.broadcast_to(z_content[:, None, :], (*z_m.shape[:2], self.content_dim))
        return jnp.concatenate([z_c, z_m], axis=-1)

    def __call__(self, z_content, eps, h0=None, *, train: bool):
        z = self.latents(z_content, eps, h0)
        b, k = z.shape[:2]
        frames = self.image_generator(z.reshape(b * k, -1), train)
        return frames.reshape(b, k, *frames.shape[1:])


def _time_taps(x, pad: tuple[int, int]):
    """[B, T, H, W, C] -> [B, T', H, W, 4C]: frames t..t+3 of the (time-padded) clip side by side,
    channels ordered (τ, c) like a [4, ·, ·, C, ·] kernel moved to [·, ·, (τ, C), ·]."""
    x = jnp.pad(x, ((0, 0), pad, (0, 0), (0, 0), (0, 0)))
    t = x.shape[1] - 3
    return jnp.concatenate([x[:, tau:tau + t] for tau in range(4)], axis=-1)


def conv3d_4x4x4(x, kernel, bias, *, time_pad: tuple[int, int] = (0, 0), impl: str = "conv", down_impl: str = "conv"):
    """A 4x4x4 convolution with stride (1, 2, 2) and one pixel of spatial padding (PyTorch's
    `Conv3d(k=4, stride=(1, 2, 2), padding=(p, 1, 1))` with `time_pad` = (p, p)) of x [B, T, H, W, Ci]:
    kernel [4, 4, 4, Ci, Co] (time, row, column), bias [Co] -> [B, T + sum(time_pad) − 3, H/2, W/2, Co].

    impl "conv": one `lax.conv_general_dilated`; "stack": the four temporal taps stacked along the
    channels and every output frame computed as the 2-D strided 4x4 convolution
    (`layers.conv_4x4_s2` of `down_impl`) of that stack: the same sums in another order, on CPU
    through the 2-D layer's fast gradient.
    """
    if impl not in CONV3D:
        raise ValueError(f"unknown 3-D convolution {impl!r}; allowed: {', '.join(CONV3D)}")
    if impl == "conv":
        pads = (tuple(time_pad), (1, 1), (1, 1))
        return lax.conv_general_dilated(x, kernel, (1, 2, 2), pads, dimension_numbers=_DN3) + bias
    b = x.shape[0]
    ci, co = kernel.shape[3:]
    taps = _time_taps(x, tuple(time_pad))
    t = taps.shape[1]
    k2 = kernel.transpose(1, 2, 0, 3, 4).reshape(4, 4, 4 * ci, co)
    y = layers.conv_4x4_s2(taps.reshape(b * t, *taps.shape[2:]), k2, bias, impl=down_impl)
    return y.reshape(b, t, *y.shape[1:])


class Conv3D(nn.Module):
    """`nn.Conv(features, (4, 4, 4), strides=(1, 2, 2))` with the padding of `conv3d_4x4x4`; the same
    parameter tree (`kernel` [4, 4, 4, Cin, features], `bias`)."""

    features: int
    time_pad: tuple[int, int] = (0, 0)
    impl: str = "conv"
    down_impl: str = "conv"
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", DCGAN_INIT, (4, 4, 4, x.shape[-1], self.features), jnp.float32)
        bias = (self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32) if self.use_bias
                else jnp.zeros((self.features,), jnp.float32))
        return conv3d_4x4x4(x, kernel, bias, time_pad=self.time_pad, impl=self.impl, down_impl=self.down_impl)


def default_conv3d(backend: str | None = None) -> str:
    """"stack" on CPU, "conv" elsewhere (not measured). On CPU the value and gradient of a width-16
    `VideoDiscriminator` on 8 clips of 16 64x64 frames took 11.6 s as "conv" and 0.16 s as "stack"
    (XLA:CPU's generic 3-D convolution against the 2-D layer's fast forms)."""
    backend = backend or jax.default_backend()
    return "stack" if backend == "cpu" else "conv"


class VideoDiscriminator(nn.Module):
    """D_V: clips [B, T, H, W, C] -> log2(H/4) x [Conv3D(4x4x4, stride (1, 2, 2)), (BN), LeakyReLU(0.2)]
    -> one linear layer over the whole remaining map -> logits [B] (module docstring).

    Channels base, 2 base, 4 base, ...; batch norm on all but the first layer when `batch_norm`.
    """

    base: int = 64
    batch_norm: bool = True
    time_padding: str = "valid"
    # How each 3-D convolution is computed (CONV3D, or "auto": `default_conv3d`), and the 2-D
    # strided convolution inside "stack" (layers.DOWNSAMPLE, or "auto").
    impl: str = "auto"
    down_impl: str = "auto"

    @nn.compact
    def __call__(self, clips, train: bool):
        if clips.ndim != 5:
            raise ValueError(f"the video discriminator takes clips [B, T, H, W, C], got shape {clips.shape}")
        if self.time_padding not in TIME_PADDINGS:
            raise ValueError(f"time_padding must be one of {', '.join(TIME_PADDINGS)}, got {self.time_padding!r}")
        n_down = num_stride2_layers(clips.shape[2], clips.shape[3])
        frames = clips.shape[1]
        if self.time_padding == "valid" and frames < 3 * n_down + 1:
            raise ValueError(f"the video discriminator without temporal padding needs clips of at least "
                             f"{3 * n_down + 1} frames at {clips.shape[2]}x{clips.shape[3]}, got {frames}; "
                             f"use time_padding='same' for shorter clips")
        if self.impl != "auto" and self.impl not in CONV3D:
            raise ValueError(f"unknown 3-D convolution {self.impl!r}; allowed: auto, {', '.join(CONV3D)}")
        impl = default_conv3d() if self.impl == "auto" else self.impl
        down = layers.resolve("downsample", self.down_impl, layers.DOWNSAMPLE, layers.default_downsample)
        pad = (0, 0) if self.time_padding == "valid" else (1, 2)  # 'same' for a 4-tap kernel at stride 1
        h = clips
        for i in range(n_down):
            normed = self.batch_norm and i > 0
            h = Conv3D(self.base * 2**i, pad, impl, down, use_bias=not normed, name=f"Conv_{i}")(h)
            if normed:
                h = _batch_norm(train)(h)
            h = nn.leaky_relu(h, negative_slope=LEAKY_SLOPE)
        # A convolution whose kernel spans the whole [t, 4, 4] map is a dense layer on its flattening.
        return nn.Dense(1, kernel_init=DCGAN_INIT, name="head")(h.reshape(h.shape[0], -1))[:, 0]
