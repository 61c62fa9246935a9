"""HFVAE (Esmaeili et al. 2019) on CelebA, 64x64 RGB (TFDS `celeb_a`, centre crop 148
then resize).

Latents from the paper's Table 2 (CelebA): a 2-way Concrete group and 20 Gaussian latents. The
paper reports no CelebA β, γ; β = 4 (TC between groups), γ = 3 (TC within groups), α = 1 are its
dSprites setting (Table 3). Estimator: the paper's Sec. 3.1 at batch 512 ("batch sizes (512-1024)
needed to approximate the inference marginal"). Concrete temperature 0.66 and the rest as in
`hfvae_dsprites.py` (conv encoder/decoder, Bernoulli pixels, Adam(1e-4) of base_config, since
the paper's appendix with its networks is not in the text the library was written from). Needs
`pip install 'disentax[tfds]'` and `tfds build celeb_a --file_format=array_record`.
"""
from disentax.config import base_config


def get_config():
    c = base_config("hfvae")
    c.dataset = "celeb_a"
    c.batch_size = 512
    c.hfvae.num_categories = 2
    c.model.latent_dim = 20
    return c
