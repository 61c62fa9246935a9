"""Discriminators on latent codes.

`LatentDiscriminator` is the FactorVAE density-ratio network (Kim & Mnih 2018,
"Disentangling by Factorising", Sec. 6: "a 6-layer MLP with 1000 units per layer"; LeakyReLU
with slope 0.2 and two output logits as in disentanglement_lib's `fc_discriminator`).

Logit convention used throughout disentax: index 0 scores "z was drawn from q(z)" (the
aggregate posterior), index 1 scores "z was drawn from ∏_j q(z_j)" (a dimension-wise
permutation). So D(z) = softmax(logits)[0] and log D/(1 − D) = logits[0] − logits[1].
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn

Q_LOGIT = 0  # index of the "sample of q(z)" class
PERMUTED_LOGIT = 1  # index of the "sample of the product of marginals" class


class LatentDiscriminator(nn.Module):
    """z [B, D] -> Dense(hidden[0]) -> LeakyReLU -> ... -> Dense(2) logits [B, 2]."""

    hidden: Sequence[int] = (1000,) * 6
    negative_slope: float = 0.2

    @nn.compact
    def __call__(self, z):
        h = z
        for width in self.hidden:
            h = nn.leaky_relu(nn.Dense(width)(h), negative_slope=self.negative_slope)
        return nn.Dense(2)(h)


def build_discriminator(disc_config) -> LatentDiscriminator:
    """The discriminator described by `config.discriminator` (hidden, negative_slope)."""
    return LatentDiscriminator(hidden=tuple(int(w) for w in disc_config.hidden),
                               negative_slope=float(disc_config.negative_slope))
