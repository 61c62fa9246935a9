"""The auxiliary-task VAE of Anonymous (2019), Sec. 3.1 and 3.2, as Flax modules ("Explicit
Information Placement on Latent Variables using Auxiliary Generative Modelling Task").

Two separate encoders, as the paper chooses (Sec. 3.1: q(z_g, z_l | x, x~) = q(z_g|x) q(z_l|x~), so
that no global information can reach z_l): q(z_g | x) on the image and q(z_l | x~) on its
patch-shuffled copy. Two decoders: p(x | z_g, z_l) on the concatenated latents and the auxiliary
p(x~ | z_l). Both emit discretized-logistic (loc, log_scale) per channel.

The clustering variant (Sec. 3.2) adds a categorical y: the global encoder also emits the logits
of q(y | x), a Concrete sample of y at a constant temperature feeds p_gamma(z_g | y) (a linear map of
y to a mean and log-variance, i.e. one Gaussian per cluster for one-hot y).

The paper gives no layer sizes; the conv trunk and decoder are those of `disentax.models` (the
Burgess et al. 2018 stack), sized by `config.model`.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.models.decoders import ConvDecoder, MLPDecoder


class Encoder(nn.Module):
    """Image -> (mu, logvar) [B, latent_dim], plus class logits [B, num_classes] when num_classes > 0."""

    latent_dim: int
    kind: str = "conv"
    channels: Sequence[int] = (32, 32, 32, 32)
    hidden: Sequence[int] = (256, 256)
    num_classes: int = 0

    @nn.compact
    def __call__(self, x):
        h = x
        if self.kind == "conv":
            for c in self.channels:
                h = nn.relu(nn.Conv(c, (4, 4), strides=(2, 2), padding="SAME")(h))
        elif self.kind != "mlp":
            raise ValueError(f"unknown model.encoder {self.kind!r}; allowed: ['conv', 'mlp']")
        h = h.reshape(h.shape[0], -1)
        for w in self.hidden:
            h = nn.relu(nn.Dense(w)(h))
        mu, logvar = jnp.split(nn.Dense(2 * self.latent_dim)(h), 2, axis=-1)
        if self.num_classes:
            return mu, logvar, nn.Dense(self.num_classes)(h)
        return mu, logvar


class AuxiliaryVAE(nn.Module):
    """`__call__(x, x_shuffled, key)` -> dict of mu_g, logvar_g, mu_l, logvar_l, z_g, z_l, out, out_aux;
    with clustering also y_logits, y (the Concrete sample), prior_mu_g, prior_logvar_g."""

    global_encoder: nn.Module
    local_encoder: nn.Module
    decoder: nn.Module
    aux_decoder: nn.Module
    global_dim: int
    num_clusters: int = 0
    temperature: float = 0.5

    def setup(self):
        if self.num_clusters:
            self.prior_net = nn.Dense(2 * self.global_dim, name="prior_z_given_y")

    def encode_global(self, x):
        return self.global_encoder(x)

    def encode_local(self, x_shuffled):
        return self.local_encoder(x_shuffled)

    def decode(self, z_g, z_l):
        """p(x | z_g, z_l) parameters."""
        return self.decoder(jnp.concatenate([z_g, z_l], axis=-1))

    def decode_aux(self, z_l):
        """p(x~ | z_l) parameters."""
        return self.aux_decoder(z_l)

    def prior_given_y(self, y):
        """p_gamma(z_g | y): (mu, logvar) [B, Dg] for (relaxed) one-hot y [B, k]."""
        mu, logvar = jnp.split(self.prior_net(y), 2, axis=-1)
        return mu, logvar

    def __call__(self, x, x_shuffled, key):
        k_g, k_l, k_y = jax.random.split(key, 3)
        enc = self.global_encoder(x)
        mu_g, logvar_g = enc[0], enc[1]
        mu_l, logvar_l = self.local_encoder(x_shuffled)
        z_g = dist.gaussian_sample(k_g, mu_g, logvar_g)
        z_l = dist.gaussian_sample(k_l, mu_l, logvar_l)
        o = {
            "mu_g": mu_g, "logvar_g": logvar_g, "mu_l": mu_l, "logvar_l": logvar_l, "z_g": z_g, "z_l": z_l,
            "out": self.decode(z_g, z_l), "out_aux": self.decode_aux(z_l),
        }
        if self.num_clusters:
            y = dist.concrete_sample(k_y, enc[2], self.temperature)
            prior_mu, prior_logvar = self.prior_given_y(y)
            o.update(y_logits=enc[2], y=y, prior_mu_g=prior_mu, prior_logvar_g=prior_logvar)
        return o


def build_auxiliary_vae(model_config, image_shape, *, global_dim: int, local_dim: int, num_clusters: int = 0,
                        temperature: float = 0.5) -> AuxiliaryVAE:
    """From `config.model` (encoder, conv_channels, hidden, mlp_hidden, likelihood), the two codes'
    sizes and, for the clustering variant, the number of clusters and their Concrete temperature."""
    m = model_config
    k, dg, dl = int(num_clusters), int(global_dim), int(local_dim)
    if m.encoder == "conv":
        kw = dict(kind="conv", channels=tuple(m.conv_channels), hidden=tuple(m.hidden))
        dec = lambda: ConvDecoder(image_shape=tuple(image_shape), channels=tuple(m.conv_channels[:-1]),  # noqa: E731
                                  hidden=tuple(m.hidden), likelihood=m.likelihood)
    else:
        kw = dict(kind="mlp", hidden=tuple(m.mlp_hidden))
        dec = lambda: MLPDecoder(image_shape=tuple(image_shape), hidden=tuple(m.mlp_hidden),  # noqa: E731
                                 likelihood=m.likelihood)
    return AuxiliaryVAE(
        global_encoder=Encoder(latent_dim=dg, num_classes=k, **kw),
        local_encoder=Encoder(latent_dim=dl, **kw),
        decoder=dec(),
        aux_decoder=dec(),
        global_dim=dg,
        num_clusters=k,
        temperature=float(temperature),
    )
