"""Auxiliary-task VAE (seed 000, Experiment 1) on CIFAR10 (TFDS `cifar10`, 32x32x3).

The SVHN settings (`auxiliary_vae_svhn.py`: patches, latent sizes, network, optimiser) with
beta = 20 as in the CIFAR10 panels of Fig. 2. Reads the prepared TFDS dataset
(`pip install "disentax[tfds]"`, then `tfds build cifar10 --file_format=array_record`).
"""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_auxiliary_vae_svhn", Path(__file__).with_name("auxiliary_vae_svhn.py"))
_svhn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_svhn)


def get_config():
    c = _svhn.get_config()
    c.dataset = "cifar10"
    c.beta = 20.0
    return c
