"""Auxiliary-task VAE (Anonymous 2019, "Explicit Information Placement on Latent Variables using
Auxiliary Generative Modelling Task", Experiment 1) on SVHN (TFDS `svhn_cropped`, 32x32x3).

Reads the prepared TFDS dataset (`pip install "disentax[tfds]"`, then `tfds build svhn_cropped
--file_format=array_record`; see the README's real-datasets section).

beta = 1 as in the swap test of Fig. 3 (Experiment 1.2); Fig. 2 used beta = 20 (override
--config.auxiliary_vae.beta=20). Not given in the paper, chosen here: 8x8 patches (16 per image),
32 global and 32 local dims, the Burgess et al. conv stack with (32, 32, 64, 64) channels,
Adam(1e-4), batch 64.
"""
from disentax.config import base_config


def get_config():
    c = base_config("auxiliary_vae")
    c.dataset = "svhn_cropped"
    c.num_steps = 200_000
    c.auxiliary_vae.patch = 8
    c.auxiliary_vae.global_dim = 32
    c.auxiliary_vae.local_dim = 32
    c.model.conv_channels = (32, 32, 64, 64)
    c.model.hidden = (256,)
    return c
