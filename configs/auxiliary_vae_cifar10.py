"""Auxiliary-task VAE (Anonymous 2019, "Explicit Information Placement on Latent Variables using
Auxiliary Generative Modelling Task", Experiment 1) on CIFAR10 (TFDS `cifar10`, 32x32x3).

The SVHN settings (`auxiliary_vae_svhn.py`: patches, latent sizes, network, optimiser) with
beta = 20 as in the CIFAR10 panels of Fig. 2. Reads the prepared TFDS dataset
(`pip install "disentax[tfds]"`, then `tfds build cifar10 --file_format=array_record`).
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "auxiliary_vae_svhn")
    c.dataset = "cifar10"
    c.auxiliary_vae.beta = 20.0
    return c
