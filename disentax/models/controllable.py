"""The networks of independently controllable factors (Thomas et al. (2018), App. A.1, Sec. 4.2, App. B.1).

- encoder f: 4 stride-2 4x4 convolutions, each with batch norm and leaky ReLU, then a linear layer
  to the K-dimensional latent h (App. A.1: "a 4-layer convolutional neural network with batch
  normalization and leaky ReLU activations"; the linear read-out to K is ours, the paper's K = 2
  being a bottleneck of the autoencoder);
- decoder g: the transposed architecture with ReLU (App. A.1): a linear layer to the last map of
  the encoder, then stride-2 4x4 transposed convolutions with batch norm and ReLU, a sigmoid on the
  pixel means (the paper's reconstruction error is ‖s − g(f(s))‖², so a squared error of means);
- factor generator Φ(h, z): two fully connected layers on bil(h, z), tanh on the last (App. A.1,
  App. B.2: "the tanh activation on the last layer of Φ");
- policy π(a | h, φ): two fully connected layers on bil(h, φ) to the action logits (App. A.1);
- baseline V(h, φ): two fully connected layers on bil(h, φ) to a scalar. The paper says "a state
  dependent baseline" (App. D); we let it read the factor too, because the reward is the
  selectivity *of φ* and its scale depends on which φ was followed. It does not read the action,
  so the estimator stays unbiased;
- latent model T_θ(h, φ): two fully connected layers on bil(h, φ) predicting h' (Sec. 4.2, App. D:
  "a learned two layer fully connected neural network"); we write it as h + MLP(bil(h, φ)), a
  residual, since what φ names is the variation h' − h;
- App. B.1's variant: K separately parameterised policies π_k(a | h), one stacked network
  (`StackedPolicies`, every parameter with a leading axis of K, each policy initialised from its
  own key); the factor φ = e_k selects policy k.

bil(a, b) = (a_i b_j) is the flattened outer product (App. A.1, after Florensa et al. (2017)). We
append a constant 1 to both vectors before it (`affine_bilinear`), so the product also holds a_i,
b_j and 1: with the plain product every network's input is zero where h = 0, and a policy could
not tell two factors apart at such a state. The paper's exact form is `bilinear`.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from disentax.models import layers
from disentax.models.gan import LEAKY_SLOPE
from disentax.models.layers import Down, Up

__all__ = ["ControllableDecoder", "ControllableEncoder", "ControllableFactors", "StackedPolicies", "TwoLayer",
           "affine_bilinear", "bilinear"]


def bilinear(a, b):
    """bil(a, b) = (a_i b_j)_{i, j} flattened i-major: [..., na], [..., nb] -> [..., na·nb], the leading
    axes broadcast (Thomas et al. (2018), App. A.1; Florensa et al. (2017))."""
    outer = a[..., :, None] * b[..., None, :]
    return outer.reshape(*outer.shape[:-2], a.shape[-1] * b.shape[-1])


def affine_bilinear(a, b):
    """bil((a, 1), (b, 1)): the products a_i b_j, then a_i, then b_j, then 1 (module docstring) ->
    [..., (na + 1)(nb + 1)]."""
    return bilinear(jnp.concatenate([a, jnp.ones((*a.shape[:-1], 1), a.dtype)], -1),
                    jnp.concatenate([b, jnp.ones((*b.shape[:-1], 1), b.dtype)], -1))


def _batch_norm(train: bool) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


def _check_side(shape, n: int):
    h, w = int(shape[0]), int(shape[1])
    if h % 2**n or w % 2**n:
        raise ValueError(f"{n} stride-2 layers need image sides divisible by {2**n}, got {h}x{w}")


class ControllableEncoder(nn.Module):
    """observations [N, H, W, C] -> h [N, latent_dim]: stride-2 convolutions with batch norm and
    leaky ReLU, then a linear layer (App. A.1)."""

    latent_dim: int = 2
    channels: Sequence[int] = (32, 32, 32, 32)
    impl: str = "auto"

    @nn.compact
    def __call__(self, x, train: bool):
        _check_side(x.shape[1:3], len(self.channels))
        impl = layers.resolve("downsample", self.impl, layers.DOWNSAMPLE, layers.default_downsample)
        h = x
        for i, c in enumerate(self.channels):
            h = Down(int(c), impl=impl, use_bias=False, name=f"Conv_{i}")(h)  # the norm removes a bias
            h = nn.leaky_relu(_batch_norm(train)(h), negative_slope=LEAKY_SLOPE)
        return nn.Dense(int(self.latent_dim), name="out")(h.reshape(h.shape[0], -1))


class ControllableDecoder(nn.Module):
    """h [N, K] -> pixel means [N, H, W, C] in [0, 1]: the encoder transposed, ReLU (App. A.1)."""

    image_shape: Sequence[int] = (64, 64, 3)
    channels: Sequence[int] = (32, 32, 32, 32)  # the encoder's, read from its last layer back
    impl: str = "auto"

    @nn.compact
    def __call__(self, h, train: bool):
        height, width, out = (int(s) for s in self.image_shape)
        n = len(self.channels)
        _check_side((height, width), n)
        impl = layers.resolve("upsample", self.impl, layers.UPSAMPLE, layers.default_upsample)
        widths = tuple(int(c) for c in self.channels)[::-1]
        side_h, side_w = height // 2**n, width // 2**n
        x = nn.Dense(side_h * side_w * widths[0], use_bias=False, name="in")(h)
        x = nn.relu(_batch_norm(train)(x.reshape(h.shape[0], side_h, side_w, widths[0])))
        for i, c in enumerate(widths[1:]):
            x = nn.relu(_batch_norm(train)(Up(c, impl=impl, use_bias=False, name=f"ConvTranspose_{i}")(x)))
        return nn.sigmoid(Up(out, impl=impl, name="ConvTranspose_last")(x))


class TwoLayer(nn.Module):
    """Two fully connected layers: Dense(hidden), ReLU, Dense(out)."""

    hidden: int
    out: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(int(self.out), name="out")(nn.relu(nn.Dense(int(self.hidden), name="hidden")(x)))


class StackedPolicies(nn.Module):
    """K separately parameterised policies π_k(a | h) (App. B.1) as one stacked `TwoLayer`:
    h [N, K_in] -> logits [N, num_policies, num_actions]."""

    num_policies: int
    num_actions: int
    hidden: int

    @nn.compact
    def __call__(self, h):
        stacked = nn.vmap(TwoLayer, variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=None,
                          out_axes=-2, axis_size=int(self.num_policies))
        return stacked(int(self.hidden), int(self.num_actions), name="policies")(h)


class ControllableFactors(nn.Module):
    """Every network of the method; the rollout and the objective live in
    `disentax.methods.controllable_factors`, which calls:

    - `encode(obs, train) -> h` [N, K] and `decode(h, train) -> pixel means` (batch norm: `train`);
    - `factors(h, z) -> φ` [..., K] = Φ(h, z) (`variant="shared"` only);
    - `policy(h, φ) -> logits` [..., A]: π(· | h, φ); with `variant="separate"`, the K policies'
      logits weighted by φ, so φ = e_k gives π_k(· | h);
    - `baseline(h, φ) -> V` [...]; `predict(h, φ) -> T_θ(h, φ)` [..., K].

    `__call__(obs, z, train)` runs each once (to initialise every parameter).
    """

    latent_dim: int = 2
    num_actions: int = 4
    image_shape: Sequence[int] = (64, 64, 3)
    channels: Sequence[int] = (32, 32, 32, 32)
    hidden: int = 64
    variant: str = "shared"  # shared: Φ and one π(a|h, φ); separate: K policies π_k(a|h), φ = e_k
    decoder: bool = True
    latent_model: bool = False
    upsample: str = "auto"
    downsample: str = "auto"

    def setup(self):
        if self.variant not in ("shared", "separate"):
            raise ValueError(f"variant must be shared or separate, got {self.variant!r}")
        k, hid = int(self.latent_dim), int(self.hidden)
        self.encoder = ControllableEncoder(k, tuple(self.channels), self.downsample)
        if self.decoder:
            self.generator = ControllableDecoder(tuple(self.image_shape), tuple(self.channels), self.upsample)
        if self.variant == "shared":
            self.factor_net = TwoLayer(hid, k)
            self.policy_net = TwoLayer(hid, int(self.num_actions))
        else:
            self.policy_net = StackedPolicies(k, int(self.num_actions), hid)
        self.baseline_net = TwoLayer(hid, 1)
        if self.latent_model:
            self.model_net = TwoLayer(hid, k)

    def encode(self, obs, train: bool):
        return self.encoder(obs, train)

    def decode(self, h, train: bool):
        return self.generator(h, train)

    def factors(self, h, z):
        return jnp.tanh(self.factor_net(affine_bilinear(h, z)))

    def policy(self, h, phi):
        if self.variant == "shared":
            return self.policy_net(affine_bilinear(h, phi))
        every = self.policy_net(h.reshape(-1, h.shape[-1])).reshape(*h.shape[:-1], phi.shape[-1], -1)
        return jnp.einsum("...k,...ka->...a", phi, every)

    def baseline(self, h, phi):
        return self.baseline_net(affine_bilinear(h, phi))[..., 0]

    def predict(self, h, phi):
        return h + self.model_net(affine_bilinear(h, phi))

    def __call__(self, obs, z, train: bool = False):
        h = self.encode(obs, train)
        phi = self.factors(h, z) if self.variant == "shared" else jnp.eye(int(self.latent_dim))[
            jnp.zeros(h.shape[0], jnp.int32)]
        out = {"h": h, "logits": self.policy(h, phi), "value": self.baseline(h, phi)}
        if self.decoder:
            out["recon"] = self.decode(h, train)
        if self.latent_model:
            out["prediction"] = self.predict(h, phi)
        return out
