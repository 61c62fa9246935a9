"""Plain VAE (Kingma & Welling 2014) on procedural dSprites.

Architecture: the conv encoder/decoder of Burgess et al. 2018 (App. A.1):
4 conv layers of 32 channels, 4x4, stride 2; 2 dense layers of 256; 10 latents; Bernoulli
decoder. Optimiser Adam(1e-4, β1=0.9, β2=0.999), batch 64, 300k steps: the
disentanglement_lib defaults (Locatello et al. 2019).
"""
from disentax.config import base_config


def get_config():
    return base_config("vae")
