"""β-VAE with β = 150 (Burgess et al. (2018), Fig. 2) on the Gaussian-blob dataset: the two position
factors in two latents, where the plain VAE (`vae_gaussian_blobs`) uses four.

As `vae_gaussian_blobs` otherwise (App. A.1 networks, Adam 5e-4, 20,000 steps chosen here).
"""
from disentax.config import base_config


def get_config():
    c = base_config("beta_vae")
    c.beta_vae.beta = 150.0
    c.dataset = "gaussian_blobs"
    c.num_steps = 20_000
    c.optimizer.learning_rate = 5e-4
    c.log_every = 200
    c.checkpoint_every = 2_000
    return c
