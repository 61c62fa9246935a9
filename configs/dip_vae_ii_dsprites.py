"""DIP-VAE-II (Kumar et al. 2018, ICLR version) on procedural dSprites.

Penalises the covariance of q(z), E_x[Σ(x)] + Cov_x[μ(x)] (Kumar et al. 2018, Eq. 4): λ_od = 10 on
the squared off-diagonal and λ_d = λ_od = 10 on the diagonal, disentanglement_lib's DIP-VAE-II
setting (lambda_d_factor = 1, λ_od swept over {1, 2, 5, 10, 20, 50};
unsupervised_study_v1/sweep.py). The paper's 2017 workshop version describes only variant I (with
λ_d = 10·λ_od). Architecture and optimiser as disentanglement_lib (see base_config).
"""
from disentax.config import base_config


def get_config():
    return base_config("dip_vae_ii")
