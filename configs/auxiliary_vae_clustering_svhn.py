"""Auxiliary-task VAE with clustering (seed 000, Experiment 2.1) on SVHN (TFDS `svhn_cropped`).

The seed's Table 1 setting: k = 30 clusters for the 10 digit classes, beta = 40 (searched over
{1, 10, 20, 30, 40, 50, 60}); reported ACC 58.2% (+- 5.6). Concrete temperature 0.5 (the seed
only says "constant"). Reads the prepared TFDS dataset, see `auxiliary_vae_svhn`.
"""
import importlib.util
from pathlib import Path


def get_config():
    spec = importlib.util.spec_from_file_location("_aux_svhn", Path(__file__).with_name("auxiliary_vae_svhn.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    c = module.get_config()
    c.method = "auxiliary_vae_clustering"
    c.beta = 40.0
    c.num_clusters = 30
    c.temperature = 0.5
    c.cluster_factor = "label"
    return c
