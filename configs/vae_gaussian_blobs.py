"""The plain VAE (β = 1) of Burgess et al. (2018), Fig. 2, on the Gaussian-blob dataset: two factors
(x, y position). The paper's finding: the VAE spreads the two positions over four latents, with
discontinuities in its traversals, where β-VAE (`beta_vae_gaussian_blobs`) uses two.

Burgess et al.'s networks (App. A.1: the standard conv encoder/decoder, 10 latents, Bernoulli
decoder, Adam 5e-4). The paper gives no training length for this figure; 20,000 steps are chosen
here (`benchmarks/blob_latents_study.py` runs both models and counts the latents each uses).
"""
from disentax.config import base_config


def get_config():
    c = base_config("vae")
    c.dataset = "gaussian_blobs"
    c.num_steps = 20_000
    c.optimizer.learning_rate = 5e-4
    c.log_every = 200
    c.checkpoint_every = 2_000
    return c
