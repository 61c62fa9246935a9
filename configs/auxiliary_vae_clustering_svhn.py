"""Auxiliary-task VAE with clustering (seed 000, Experiment 2.1) on SVHN (TFDS `svhn_cropped`).

The seed's Table 1 setting: k = 30 clusters for the 10 digit classes, beta = 40 (searched over
{1, 10, 20, 30, 40, 50, 60}); reported ACC 58.2% (+- 5.6). Concrete temperature 0.5 (the seed
only says "constant"). Reads the prepared TFDS dataset, see `auxiliary_vae_svhn`.
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "auxiliary_vae_svhn")
    c.method = "auxiliary_vae_clustering"
    c.beta = 40.0
    c.num_clusters = 30
    c.temperature = 0.5
    c.cluster_factor = "label"
    return c
