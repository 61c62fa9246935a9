"""β-VAE (Higgins et al. 2017) on CelebA, 64x64 RGB (TFDS `celeb_a`, centre crop 148 then resize).

β = 4: the β-VAE setting on CelebA compared against in Kumar et al. 2018 (DIP-VAE, Table 1:
β₁ = 4, β₂ = 8; use --config.beta_vae.beta=8 for the second). 32 latent dimensions, as in the
CelebA experiments of Higgins et al. 2017 and Burgess et al. 2018 (App. A.1), with the
same conv encoder/decoder and Bernoulli pixels; Adam(1e-4), batch 64 (disentanglement_lib).
Needs `pip install 'disentax[tfds]'` and the data prepared once:
`tfds build celeb_a --file_format=array_record` (see README, "Real datasets").
"""
from disentax.config import base_config


def get_config():
    c = base_config("beta_vae")
    c.dataset = "celeb_a"
    c.model.latent_dim = 32
    return c
