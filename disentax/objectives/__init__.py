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

__all__ = [
    "LIKELIHOODS",
    "annealed_vae",
    "beta_vae",
    "capacity",
    "elbo",
    "reconstruction_log_likelihood",
    "reconstruction_mean",
]
