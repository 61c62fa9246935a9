"""β-TCVAE (Chen et al. 2018) on CelebA, 64x64 RGB (TFDS `celeb_a`, centre crop 148 then resize),
as in the comparison of Esmaeili et al. 2019.

From Esmaeili et al. (2019): 20 Gaussian latents (Table 2, CelebA), batch 512 (Sec. 3.1: "batch
sizes (512-1024) needed to approximate the inference marginal"), α = γ = 1 (Table 1's β-TCVAE row
weights only the TC term) and the paper's estimator of q(z) (Sec. 3.1; one implementation of the
objective for every model, Sec. 5): estimator "hfvae". The paper reports no CelebA β; β = 4 is
its dSprites setting (Table 3). Its appendix with networks and optimiser is not in the text the
library was written from, so the conv encoder/decoder, Bernoulli pixels and Adam(1e-4) of
base_config (disentanglement_lib, as in `beta_vae_celeb_a.py`) are kept. Needs
`pip install 'disentax[tfds]'` and `tfds build celeb_a --file_format=array_record` (see README,
"Real datasets").
"""
from disentax.config import base_config


def get_config():
    c = base_config("beta_tcvae")
    c.dataset = "celeb_a"
    c.batch_size = 512
    c.beta_tcvae.beta = 4.0
    c.beta_tcvae.estimator = "hfvae"
    c.model.latent_dim = 20
    return c
