"""DIP-VAE-I (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts
from Unlabeled Observations", Eq. 5) on procedural dSprites.

Penalises Cov_x[μ(x)]: λ_od = 10 on the squared off-diagonal, λ_d = 10·λ_od = 100 on the
squared diagonal deviation from 1. "We fix λ_d = 10λ_od in all our experiments" (Kumar et al.
2018, Sec. 3); λ_od = 10 is in disentanglement_lib's sweep {1, 2, 5, 10, 20, 50} with
lambda_d_factor = 10 (unsupervised_study_v1/sweep.py). Architecture and optimiser as
disentanglement_lib (see base_config).
"""
from disentax.config import base_config


def get_config():
    return base_config("dip_vae_i")
