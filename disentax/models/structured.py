"""Structured encoders for weak supervision: q(y|x) q(z|x,y) (Siddharth et al. 2017) and
style/content (Bouchacourt et al. 2018).

- `StructuredVAE`: a shared pre-encoder h(x) (Siddharth et al. 2017, appendix, "Models": the common
  feature-extraction part of q), a classifier head q(y|x) = Cat(softmax(W h)), a style head
  q(z | x, y) = N(μ, σ²) reading [h, y] (Siddharth et al.'s class-conditional model joins the digit
  and the features in one linear layer), and a decoder p(x | y, z) reading [y, z]. With
  `num_regressed` R > 0, a regression head q(c | x) = N(m, e^s) on h (Siddharth et al.'s faces
  model: the lighting reads the input) adds R continuous partially-supervised latents, fed on with
  y: the style head reads [h, y, c], the decoder [y, c, z].
- `GroupedVAE`: one encoder giving q(s_i|x_i) and q(c|x_i) (split of its Gaussian output), a
  decoder p(x | c, s) reading [c, s] (Bouchacourt et al. 2018, Sec. 3.2).

Both reuse the foundation's conv (64×64 or 8×8 with fewer layers) or MLP stacks.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.models.decoders import ConvDecoder, MLPDecoder
from disentax.models.encoders import ConvEncoder, MLPEncoder
from disentax.objectives.grouped import product_of_gaussians

__all__ = ["Trunk", "StructuredVAE", "GroupedVAE", "build_structured_vae", "build_grouped_vae", "make_decoder"]


class Trunk(nn.Module):
    """Pre-encoder x -> features [B, F]: strided 4×4 convs then dense ReLU layers, or dense only."""

    kind: str = "mlp"
    conv_channels: Sequence[int] = (32, 32, 32, 32)
    hidden: Sequence[int] = (512, 512)

    @nn.compact
    def __call__(self, x):
        h = x
        if self.kind == "conv":
            for c in self.conv_channels:
                h = nn.relu(nn.Conv(c, (4, 4), strides=(2, 2), padding="SAME")(h))
        elif self.kind != "mlp":
            raise ValueError(f"unknown encoder {self.kind!r}; allowed: conv, mlp")
        h = h.reshape(h.shape[0], -1)
        for w in self.hidden:
            h = nn.relu(nn.Dense(w)(h))
        return h


def make_decoder(model_config: Any, image_shape: Sequence[int]) -> nn.Module:
    """The foundation decoder of `model_config.encoder` kind, for any latent width."""
    if model_config.encoder == "conv":
        return ConvDecoder(image_shape=tuple(image_shape), channels=tuple(model_config.conv_channels[:-1]),
                           hidden=tuple(model_config.hidden), likelihood=model_config.likelihood)
    if model_config.encoder == "mlp":
        return MLPDecoder(image_shape=tuple(image_shape), hidden=tuple(model_config.mlp_hidden),
                          likelihood=model_config.likelihood)
    raise ValueError(f"unknown model.encoder {model_config.encoder!r}; allowed: conv, mlp")


class StructuredVAE(nn.Module):
    """q(y|x) q(z|x,y) with p(x|y,z): the class-conditional model of Siddharth et al. (2017),
    Fig. 3.

    `estimator` says what reaches q(z|x,y) and the decoder on unlabelled data: ``plugin`` feeds
    ρ = softmax(logits) = E_q[y]; ``concrete`` feeds a Concrete sample at `temperature`.
    """

    trunk: nn.Module
    decoder: nn.Module
    num_classes: int = 10
    latent_dim: int = 50
    estimator: str = "plugin"
    temperature: float = 0.67
    num_regressed: int = 0

    def setup(self):
        self.classifier = nn.Dense(self.num_classes)
        self.style_head = nn.Dense(2 * self.latent_dim)
        if self.num_regressed:  # no parameters at all without regressed latents
            self.regressor = nn.Dense(2 * self.num_regressed)

    def features(self, x):
        return self.trunk(x)

    def classify(self, x):
        """Logits of q(y | x) [B, K]."""
        return self.classifier(self.trunk(x))

    def _style(self, h, y, c=None):
        inputs = [h, y] if c is None else [h, y, c]
        mu, logvar = jnp.split(self.style_head(jnp.concatenate(inputs, -1)), 2, axis=-1)
        return mu, logvar

    def _regress(self, h):
        c_mu, c_logvar = jnp.split(self.regressor(h), 2, axis=-1)
        return c_mu, c_logvar

    def regress(self, x):
        """(m, s) of q(c | x) [B, R]: mean and log-variance of the regressed (standardised) latents."""
        return self._regress(self.trunk(x))

    def encode(self, x, y=None, c=None):
        """(logits [B, K], μ_z, logvar_z) with y = E_q[y] (plug-in) unless a one-hot/simplex y is
        given, and (with regressed latents) c = the mean of q(c|x) unless given."""
        h = self.trunk(x)
        logits = self.classifier(h)
        if y is None:
            y = jax.nn.softmax(logits, -1)
        if self.num_regressed:
            if c is None:
                c = self._regress(h)[0]
            mu, logvar = self._style(h, y, c)
        else:
            mu, logvar = self._style(h, y)
        return logits, mu, logvar

    def decode(self, y, z, c=None):
        """p(x | y, z) (or p(x | y, c, z) with regressed latents c) parameters."""
        if self.num_regressed:
            if c is None:
                raise ValueError(f"this model has {self.num_regressed} regressed latents: decode(y, z, c) needs c")
            return self.decoder(jnp.concatenate([y, c, z], -1))
        return self.decoder(jnp.concatenate([y, z], -1))

    def __call__(self, x, key, labels=None, supervised=False, targets=None):
        """One pass for a wholly labelled (`supervised`) or unlabelled batch, `supervised` traced.

        Returns dict(y_logits, y (what was fed downstream), log_y (Concrete sample's log; the
        plug-in ρ's log otherwise), mu, logvar, z, out); with regressed latents also c_mu,
        c_logvar (q(c|x)) and c (fed downstream: `targets` [B, R] on a labelled batch, a
        reparameterised sample of q(c|x) otherwise).
        """
        if self.num_regressed:
            k_y, k_z, k_c = jax.random.split(key, 3)
        else:
            k_y, k_z = jax.random.split(key)
        h = self.trunk(x)
        logits = self.classifier(h)
        if self.estimator == "concrete":
            log_y = dist.concrete_sample_log(k_y, logits, self.temperature)
        elif self.estimator == "plugin":
            log_y = jax.nn.log_softmax(logits, -1)
        else:
            raise ValueError(f"unknown estimator {self.estimator!r}; allowed: plugin, concrete")
        y = jnp.exp(log_y)
        if labels is not None:
            onehot = jax.nn.one_hot(labels, self.num_classes, dtype=y.dtype)
            y = jnp.where(jnp.asarray(supervised, bool), onehot, y)
        if not self.num_regressed:
            mu, logvar = self._style(h, y)
            z = dist.gaussian_sample(k_z, mu, logvar)
            return {"y_logits": logits, "y": y, "log_y": log_y, "mu": mu, "logvar": logvar, "z": z,
                    "out": self.decode(y, z)}
        c_mu, c_logvar = self._regress(h)
        c = dist.gaussian_sample(k_c, c_mu, c_logvar)
        if targets is not None:
            c = jnp.where(jnp.asarray(supervised, bool), jnp.asarray(targets, c.dtype), c)
        mu, logvar = self._style(h, y, c)
        z = dist.gaussian_sample(k_z, mu, logvar)
        return {"y_logits": logits, "y": y, "log_y": log_y, "mu": mu, "logvar": logvar, "z": z,
                "c_mu": c_mu, "c_logvar": c_logvar, "c": c, "out": self.decode(y, z, c)}


class GroupedVAE(nn.Module):
    """ML-VAE networks (Bouchacourt et al. 2018): encoder x -> (q(s|x), q(c|x)), decoder
    (c, s) -> p(x|c, s)."""

    encoder: nn.Module  # returns (mu, logvar) of width style_dim + content_dim
    decoder: nn.Module
    style_dim: int = 10
    content_dim: int = 10

    def encode(self, x):
        """(mu_s, logvar_s, mu_c, logvar_c), each [B, ·]: style first, content after."""
        mu, logvar = self.encoder(x)
        s = self.style_dim
        return mu[:, :s], logvar[:, :s], mu[:, s:], logvar[:, s:]

    def decode(self, c, s):
        return self.decoder(jnp.concatenate([c, s], -1))

    def __call__(self, x, key, segment_ids, num_groups: int):
        """Algorithm 1 for a flat batch of groups: encode, accumulate content per group (Eq. 7),
        draw one c_{G,i} per observation and one s_i, decode."""
        mu_s, logvar_s, mu_c, logvar_c = self.encode(x)
        mu_g, logvar_g = product_of_gaussians(mu_c, logvar_c, segment_ids, num_groups)
        k_c, k_s = jax.random.split(key)
        c = dist.gaussian_sample(k_c, mu_g[segment_ids], logvar_g[segment_ids])
        s = dist.gaussian_sample(k_s, mu_s, logvar_s)
        return {"mu_s": mu_s, "logvar_s": logvar_s, "mu_c": mu_c, "logvar_c": logvar_c, "mu_g": mu_g,
                "logvar_g": logvar_g, "c": c, "s": s, "out": self.decode(c, s)}


def build_structured_vae(model_config: Any, image_shape: Sequence[int], num_classes: int, *,
                         estimator: str = "plugin", temperature: float = 0.67,
                         num_regressed: int = 0) -> StructuredVAE:
    """`StructuredVAE` from `config.model` (encoder kind, conv_channels, hidden or mlp_hidden,
    latent_dim), with `num_regressed` continuous partially-supervised latents."""
    kind = model_config.encoder
    hidden = tuple(model_config.hidden) if kind == "conv" else tuple(model_config.mlp_hidden)
    trunk = Trunk(kind=kind, conv_channels=tuple(model_config.conv_channels), hidden=hidden)
    return StructuredVAE(trunk=trunk, decoder=make_decoder(model_config, image_shape), num_classes=int(num_classes),
                         latent_dim=int(model_config.latent_dim), estimator=estimator, temperature=float(temperature),
                         num_regressed=int(num_regressed))


def build_grouped_vae(model_config: Any, image_shape: Sequence[int], *, style_dim: int, content_dim: int) -> GroupedVAE:
    """`GroupedVAE` from `config.model` with style and content widths."""
    width = int(style_dim) + int(content_dim)
    if model_config.encoder == "conv":
        enc = ConvEncoder(latent_dim=width, channels=tuple(model_config.conv_channels), hidden=tuple(model_config.hidden))
    elif model_config.encoder == "mlp":
        enc = MLPEncoder(latent_dim=width, hidden=tuple(model_config.mlp_hidden))
    else:
        raise ValueError(f"unknown model.encoder {model_config.encoder!r}; allowed: conv, mlp")
    return GroupedVAE(encoder=enc, decoder=make_decoder(model_config, image_shape), style_dim=int(style_dim),
                      content_dim=int(content_dim))
