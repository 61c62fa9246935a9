"""Auxiliary-task VAE (seed 000, Experiment 1) on CIFAR10 (TFDS `cifar10`, 32x32x3).

Needs the TFDS dataset support of the data issue (the dataset name `cifar10` must be
registered there, and the data downloaded or prepared); until that lands `disentax train` refuses
this config with "config.dataset='cifar10' is unknown".

beta = 20 as in the CIFAR10 panels of Fig. 2. Not given in the seed, chosen here: 8x8 patches (16 per image), 32 global and
32 local dims, the Burgess et al. conv stack with (32, 32, 64, 64) channels, Adam(1e-4), batch 64.
"""
from disentax.config import base_config


def get_config():
    c = base_config()
    c.method = "auxiliary_vae"
    c.dataset = "cifar10"
    c.num_steps = 200_000
    c.beta = 20.0
    c.patch = 8
    c.global_dim = 32
    c.local_dim = 32
    c.model.likelihood = "logistic"
    c.model.conv_channels = (32, 32, 64, 64)
    c.model.hidden = (256,)
    c.model.latent_dim = 64
    return c
