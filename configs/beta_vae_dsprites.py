"""β-VAE (Higgins et al. 2017) on procedural dSprites.

β = 4: Higgins et al.'s dSprites setting (disentanglement_lib sweeps β ∈ {1, 2, 4, 6, 8, 16}).
Architecture from Burgess et al. 2018 (App. A.1); Adam(1e-4), batch 64,
300k steps as in disentanglement_lib.
"""
from disentax.config import base_config


def get_config():
    return base_config("beta_vae")
