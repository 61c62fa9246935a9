"""ML-VAE (Bouchacourt et al. 2018) on procedural dSprites, grouped by shape.

Every group shares a shape; scale, orientation and position vary per image, so the content code
should carry the shape and the style the rest. Any factor can be the grouping one
(`--config.ml_vae.group_factor=scale`). Conv encoder/decoder of Burgess et al. 2018 App. A.1 (as
in the other dSprites configs), style and content of 10 dims each (Bouchacourt et al.'s MNIST
sizes), Adam(1e-4), batch 64 as 8 groups of 8 (the paper does not state its group size).
"""
from disentax.config import base_config


def get_config():
    c = base_config("ml_vae")
    c.batch_size = 64
    c.num_steps = 100_000
    c.ml_vae.group_factor = "shape"
    c.ml_vae.group_size = 8
    return c
