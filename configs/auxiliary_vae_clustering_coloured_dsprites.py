"""Auxiliary-task VAE with a Concrete cluster variable y (Anonymous 2019, "Explicit Information
Placement on Latent Variables using Auxiliary Generative Modelling Task", Experiment 2, Eq. 7-11) on
embedded coloured dSprites.

Clusters are scored against the global factor `shape` (3 classes) with k = 9 clusters, the paper's
ratio of k to classes (30 clusters for 10 SVHN digits, Table 1); accuracy maps every cluster to its
most frequent class. beta = 1 on this data (the paper's SVHN value is 40, see
`auxiliary_vae_clustering_svhn`); Concrete temperature 0.5 (the paper only says "constant").
Other settings as in `auxiliary_vae_coloured_dsprites`.
"""
from disentax.config import sibling_config, with_method


def get_config():
    c = with_method(sibling_config(__file__, "auxiliary_vae_coloured_dsprites"), "auxiliary_vae_clustering")
    hp = c.auxiliary_vae_clustering
    hp.beta = 1.0
    hp.num_clusters = 9
    hp.cluster_factor = "shape"
    return c
