"""β-VAE on the three-shapes grid of Peychev, Veličković & Liò (2018): one point of their β sweep.

The paper sweeps β from 0 to 5 in steps of 0.2 with 5 models per β, for fully connected and
convolutional autoencoders, plain and denoising (salt and pepper on up to 20 % of the pixels):
`benchmarks/beta_sweep_study.py` runs that grid through `disentax sweep`. It gives no latent size,
network, optimiser or training length; chosen here: 10 latents and the library's networks
(`config.model.encoder` conv: Burgess et al. (2018) App. A.1; mlp: 1200-1200, Higgins et al.
(2017)), Adam 1e-4, batch 64, and 100,000 steps. β = 4 is Higgins et al.'s disentangled setting.

    disentax train --config beta_vae_three_shapes --workdir runs/shapes --config.model.salt_and_pepper=0.2
"""
from disentax.config import base_config


def get_config():
    c = base_config("beta_vae")
    c.dataset = "three_shapes"
    c.num_steps = 100_000
    return c
