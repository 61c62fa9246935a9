"""Pure objectives: arrays in, `(loss, aux)` out. Import into your own JAX code freely."""
from disentax.objectives.elbo import (
    LIKELIHOODS,
    annealed_vae,
    beta_vae,
    capacity,
    elbo,
    reconstruction_log_likelihood,
    reconstruction_mean,
)
from disentax.objectives.factor import (
    discriminator_tc,
    factor_vae_discriminator_loss,
    factor_vae_loss,
    permute_dims,
)

__all__ = [
    "LIKELIHOODS",
    "annealed_vae",
    "beta_vae",
    "capacity",
    "discriminator_tc",
    "elbo",
    "factor_vae_discriminator_loss",
    "factor_vae_loss",
    "permute_dims",
    "reconstruction_log_likelihood",
    "reconstruction_mean",
]
