"""DCGAN (Radford, Metz & Chintala 2016) on procedural identity sprites: SD-GAN's baseline.

- z ~ U[-1, 1]^100, the DCGAN generator and discriminator, Adam 2e-4 with β1 = 0.5 (Sec. 4),
  non-saturating GAN loss. Batch 32 images, the same images per step as SD-GAN's 16 pairs, and the
  same 20,000 steps, so the two compare at one budget (Radford et al. used batch 128).
- Evaluated as SD-GAN: its first 50 latent dimensions play z_I in the verification of generated
  pairs. Nothing ties them to identity, so a plain DCGAN should verify near chance (AUC ≈ 0.5).
"""
from disentax.config import base_config


def get_config():
    c = base_config("dcgan")
    c.dataset = "identity_sprites"
    c.batch_size = 32
    c.num_steps = 20_000
    c.log_every = 200
    c.checkpoint_every = 2_000
    return c
