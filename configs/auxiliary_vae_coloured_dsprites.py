"""Auxiliary-task VAE (seed 000, Sec. 2 and Experiment 1, Eq. 6) on embedded coloured dSprites.

x~ = x with its 4x4-pixel patches shuffled (64 patches of a 32x32 image); q(z_g|x) and q(z_l|x~)
are separate conv encoders; p(x|z_g, z_l) and p(x~|z_l) discretized-logistic conv decoders.

beta = 1: the seed's setting for the swap test of Fig. 3 (Experiment 1.2; Fig. 2 used beta = 20,
and the seed reports the global/local split is robust to beta). Not given in the seed, chosen
here: patch 4 (a sprite at 32x32 spans up to 8 px, so 4-px patches break its shape), 8 global and
8 local dims, the Burgess et al. conv stack with (32, 32, 64, 64) channels, Adam(1e-4), batch 64.
"""
from disentax.config import base_config


def get_config():
    c = base_config()
    c.method = "auxiliary_vae"
    c.dataset = "coloured_dsprites"
    c.num_steps = 100_000
    c.beta = 1.0
    c.patch = 4
    c.global_dim = 8
    c.local_dim = 8
    c.model.likelihood = "logistic"
    c.model.conv_channels = (32, 32, 64, 64)
    c.model.hidden = (256,)
    c.model.latent_dim = 16  # global_dim + local_dim, for bookkeeping
    c.swap_examples = 2000  # images per factor classifier fit and per swap-test condition
    return c
