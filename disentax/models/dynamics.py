"""The networks of Banijamali et al. (2018), "Disentangling dynamics and content for control and
planning" (Fig. 2), built on RCE / E2C's locally linear latent dynamics.

- the encoder q_φ(z|x), q_φ(w|x): ONE network with two Gaussian heads, the dynamics latent z (for Y
  the same heads give v) and the content latent w. Sec. 4: "We use the same encoder and decoder for
  the two observation sets", so X and Y go through the same parameters;
- the decoder p(x | z, w): Bernoulli logits of every pixel from the concatenation [z, w];
- the transition network z̄_t -> (A_t, B_t, c_t) of Eq. 2, with A_t = I + v_t r_tᵀ (the rank-one form of
  E2C, Watter et al. (2015)): A_t is invertible except where 1 + r_tᵀv_t = 0, and its inverse is
  closed form (Sherman–Morrison, `disentax.objectives.controllable_embedding.rank_one_inverse`),
  which Eq. 3's δ(z_t | ẑ_{t+1}, z̄_t, u_t) needs;
- the backward recognition network q_ϕ(z̄_t | ẑ_{t+1}, x_t) of Eq. 3 (RCE): a Gaussian over the
  linearisation point from the next latent and the current image.

Sizes (the paper gives none): E2C's planar networks (Watter et al. (2015), App.), MLPs of two
150-unit ReLU layers for the encoder, the decoder and the backward network, two 100-unit ReLU layers
for the transition. The last layer of the transition starts at a tenth of Flax's LeCun-normal scale,
so training starts near A = I, B = 0, c = 0 (a near-identity latent dynamics, far from a singular A).
Widths are fields, so tests build the same networks a few units wide.
"""
from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
from jax.nn.initializers import variance_scaling

from disentax.objectives.controllable_embedding import locally_linear, rank_one_inverse, rank_one_matrix

__all__ = ["DynamicsContent", "Transition", "mlp"]


def mlp(h, widths: Sequence[int], prefix: str):
    """ReLU layers of `widths` units, named `{prefix}_{i}` (call inside a compact method)."""
    for i, w in enumerate(widths):
        h = nn.relu(nn.Dense(int(w), name=f"{prefix}_{i}")(h))
    return h


class Transition(nn.Module):
    """z̄ [..., D] -> (v, r [..., D], B [..., D, U], c [..., D]) of Eq. 2 with A = I + v rᵀ."""

    z_dim: int
    u_dim: int
    hidden: Sequence[int] = (100, 100)

    @nn.compact
    def __call__(self, z_bar):
        d, m = int(self.z_dim), int(self.u_dim)
        h = z_bar
        for i, w in enumerate(self.hidden):
            h = nn.relu(nn.Dense(int(w), name=f"Dense_{i}")(h))
        small = variance_scaling(0.01, "fan_in", "truncated_normal")  # (1/10 of LeCun's std)^2
        out = nn.Dense(3 * d + d * m, kernel_init=small, name="out")(h)
        v, r, c, b = jnp.split(out, [d, 2 * d, 3 * d], axis=-1)
        return v, r, b.reshape(*b.shape[:-1], d, m), c


class DynamicsContent(nn.Module):
    """The encoder, decoder, transition and backward networks of Banijamali et al. (2018), Fig. 2.

    Methods (all batched over a leading axis): `encode(x)` -> (z_mean, z_logvar, w_mean, w_logvar);
    `decode(z, w)` -> logits [B, H, W, C]; `transition(z_bar)` -> (A, B, c) with A = I + v rᵀ and
    `transition_inverse(z_bar)` -> its Sherman–Morrison inverse; `linearise(z_bar)` -> (A, A⁻¹, B, c); `predict(z, u)` -> A(z) z + B(z) u + c(z),
    the latent model the planner linearises; `backward(z_next, x_t)` -> (mean, logvar) of q(z̄_t | ẑ_{t+1}, x_t).
    """

    image_shape: tuple[int, int, int]
    z_dim: int = 2
    w_dim: int = 2
    u_dim: int = 2
    encoder_hidden: Sequence[int] = (150, 150)
    decoder_hidden: Sequence[int] = (150, 150)
    transition_hidden: Sequence[int] = (100, 100)
    backward_hidden: Sequence[int] = (150, 150)

    def setup(self):
        self.trans = Transition(self.z_dim, self.u_dim, tuple(self.transition_hidden))
        self.enc = [nn.Dense(int(w), name=f"encoder_{i}") for i, w in enumerate(self.encoder_hidden)]
        self.enc_out = nn.Dense(2 * (self.z_dim + self.w_dim), name="encoder_out")
        self.dec = [nn.Dense(int(w), name=f"decoder_{i}") for i, w in enumerate(self.decoder_hidden)]
        self.dec_out = nn.Dense(math.prod(self.image_shape), name="decoder_out")
        self.bwd = [nn.Dense(int(w), name=f"backward_{i}") for i, w in enumerate(self.backward_hidden)]
        self.bwd_out = nn.Dense(2 * self.z_dim, name="backward_out")

    def encode(self, x):
        h = x.reshape(x.shape[0], -1)
        for layer in self.enc:
            h = nn.relu(layer(h))
        z_mean, z_logvar, w_mean, w_logvar = jnp.split(
            self.enc_out(h), [self.z_dim, 2 * self.z_dim, 2 * self.z_dim + self.w_dim], axis=-1)
        return z_mean, z_logvar, w_mean, w_logvar

    def decode(self, z, w):
        h = jnp.concatenate([z, w], -1)
        for layer in self.dec:
            h = nn.relu(layer(h))
        return self.dec_out(h).reshape(h.shape[0], *self.image_shape)

    def transition(self, z_bar):
        v, r, b, c = self.trans(z_bar)
        return rank_one_matrix(v, r), b, c

    def transition_inverse(self, z_bar):
        v, r, _, _ = self.trans(z_bar)
        return rank_one_inverse(v, r)

    def linearise(self, z_bar):
        """(A, A⁻¹, B, c) at z̄ from one pass of the transition network."""
        v, r, b, c = self.trans(z_bar)
        return rank_one_matrix(v, r), rank_one_inverse(v, r), b, c

    def predict(self, z, u):
        a, b, c = self.transition(z)
        return locally_linear(a, b, c, z, u)

    def backward(self, z_next, x_t):
        h = jnp.concatenate([x_t.reshape(x_t.shape[0], -1), z_next], -1)
        for layer in self.bwd:
            h = nn.relu(layer(h))
        mean, logvar = jnp.split(self.bwd_out(h), 2, axis=-1)
        return mean, logvar

    def __call__(self, x, u):
        """Every network once (for `init`): x [B, H, W, C], u [B, U]."""
        z_mean, _, w_mean, _ = self.encode(x)
        logits = self.decode(z_mean, w_mean)
        z_bar, _ = self.backward(z_mean, x)
        return logits, self.predict(z_bar, u), self.transition_inverse(z_bar)
