"""HFVAE (Esmaeili et al. 2019) on the released dSprites images (TFDS `dsprites_tfds`).

The settings of `hfvae_dsprites.py` (from the paper: a 3-way Concrete group for shape and 10
Gaussian latents, Table 2; β = 4, γ = 3, α = 1, Table 3; its q(z) estimator at batch 512,
Sec. 3.1), read from TFDS instead of rendered procedurally, so the scores are on the images the
paper used. Needs `pip install 'disentax[tfds]'` and `tfds build dsprites --file_format=array_record`.
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "hfvae_dsprites")
    c.dataset = "dsprites_tfds"
    return c
