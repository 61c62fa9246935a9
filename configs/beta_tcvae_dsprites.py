"""β-TCVAE (Chen et al. 2018) on procedural dSprites.

β = 6 (TC weight), α = γ = 1 as in Chen et al. (who weight only the TC term); β = 6 is the
middle of disentanglement_lib's β-TCVAE sweep {1, 2, 4, 6, 8, 10}
(disentanglement_lib/config/unsupervised_study_v1/sweep.py). Estimator: minibatch weighted
sampling (Chen et al.'s default; disentanglement_lib uses it too, without its constants).
Architecture, Adam(1e-4), batch 64 and 300k steps as disentanglement_lib (see base_config).
"""
from disentax.config import base_config


def get_config():
    return base_config("beta_tcvae")
