"""Multi-Entity VAE (Nash et al. 2017, "The Multi-Entity Variational Autoencoder") on
procedural multi-object dSprites (up to 3 sprites, each present with probability 1/2).

From the paper (Appendix A): encoder of four convolutions with max-pooling, relative x, y
coordinate channels, two more convolutions to 24 channels = 12-d diagonal Gaussians per grid
cell; N = 5 object latents (Fig. 4, and 60 = 5 x 12 latents for the matched VAE); shared object
network g of two dense layers reshaped to 8x8x16 then two convolutions with bilinear upsampling;
max pooling over objects; renderer h of three convolutions and one bilinear upsampling to
64x64x3 Bernoulli logits; ELU everywhere; Adam with the learning rate annealed from 1e-3 to 1e-5
over 3e6 steps.

Not given in the paper, chosen here: 3x3 kernels, channel widths (32, 32, 64, 64), pooling after
the first three convolutions (an 8x8 grid of 64 candidates), 256 hidden units in g, 32-channel
convolutions in g and h, batch 64, log-linear annealing, p(present) = 1/2 with at most 3 sprites
(the "3-sprite" data of Appendix C). Smaller runs: --config.num_steps=...
--config.mvae.lr_decay_steps=...
"""
from disentax.config import base_config


def get_config():
    c = base_config("mvae")  # N = 5 objects of 12 dims, Adam 1e-3 annealed to 1e-5 over 3e6 steps
    c.dataset = "multi_dsprites"
    c.num_steps = 3_000_000
    return c
