"""Auxiliary-task VAE with clustering (Anonymous 2019, "Explicit Information Placement on Latent
Variables using Auxiliary Generative Modelling Task", Experiment 2.1) on SVHN (TFDS `svhn_cropped`).

The paper's Table 1 setting: k = 30 clusters for the 10 digit classes, beta = 40 (searched over
{1, 10, 20, 30, 40, 50, 60}); reported ACC 58.2% (+- 5.6). Concrete temperature 0.5 (the paper
only says "constant"). Reads the prepared TFDS dataset, see `auxiliary_vae_svhn`.
"""
from disentax.config import sibling_config, with_method


def get_config():
    c = with_method(sibling_config(__file__, "auxiliary_vae_svhn"), "auxiliary_vae_clustering")
    hp = c.auxiliary_vae_clustering  # beta = 40, 30 clusters, temperature 0.5: the method's defaults
    hp.patch, hp.global_dim, hp.local_dim = 8, 32, 32  # as auxiliary_vae_svhn
    return c
