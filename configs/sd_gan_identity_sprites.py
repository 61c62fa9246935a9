"""SD-GAN (Donahue, Lipton, Balsubramani & McAuley 2018, "Semantically decomposing the latent spaces
of GANs") with the SD-DCGAN discriminator on procedural identity sprites.

- z = [z_I; z_O], d_I = d_O = 50, z ~ U[-1, 1]^100; batches of 16 identity-matched pairs; Adam
  2e-4, β1 = 0.5, β2 = 0.999 for both networks (Sec. 4). The paper trains 500,000 iterations on
  MS-Celeb-1M faces; this config runs 20,000 (a GPU budget: `--config.num_steps` to change).
- Data: `identity_sprites`, 64x64 colour sprites whose identity is (shape, scale, colour), 54
  identities, each seen in 8 x 8 x 8 poses (orientation, position): the stand-in for faces.
- Evaluation: identity verification of 2,000 class-balanced pairs by a judge trained on real
  images (the paper's FaceNet), for real pairs and for generated pairs sharing z_I.
"""
from disentax.config import base_config


def get_config():
    c = base_config("sd_gan")
    c.num_steps = 20_000
    c.log_every = 200
    c.checkpoint_every = 2_000
    return c
