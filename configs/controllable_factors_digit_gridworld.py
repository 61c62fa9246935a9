"""Independently controllable factors, the discrete simple case (Thomas et al. (2018), App. B.1): two
digits on a grid moved by 8 actions, K = 4 latent coordinates, K separately parameterised policies
π_k(a | h), no autoencoder.

The paper's settings: "a latent space H of size K, with K factors corresponding to the coordinates of
h", "K separately parameterized policies", "the selectivity objective, but no autoencoder loss"; two
MNIST digits, the first odd, the second even, 4 directional actions each (8 in all); Fig. 4 plots
each h_k against x1, y1, x2, y2.

Ours: `digit_gridworld` draws scikit-learn's 8x8 digits (offline) instead of MNIST; φ_k = e_k with
the Gaussian kernel of Sec. 4.1 (σ = √K = 2) makes Eq. 1 concrete (policy k is rewarded for moving
h_k by one; the denominator is the mean score of the K factors); one-step policies; the method's
other defaults, and 5,000 steps (B.1 says only that it learns slower than with an autoencoder).
"""
from disentax.config import base_config


def get_config():
    c = base_config("controllable_factors")
    c.dataset = "digit_gridworld"
    c.controllable_factors.variant = "separate"
    c.controllable_factors.latent_dim = 4
    c.controllable_factors.ae_weight = 0.0
    c.num_steps = 5_000
    c.log_every = 100
    c.checkpoint_every = 1_000
    return c
