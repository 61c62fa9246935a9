"""Auxiliary-task VAE (Anonymous 2019, "Explicit Information Placement on Latent Variables using
Auxiliary Generative Modelling Task", Sec. 2 and Experiment 1, Eq. 6) on embedded coloured dSprites.

x~ = x with its 4x4-pixel patches shuffled (64 patches of a 32x32 image); q(z_g|x) and q(z_l|x~)
are separate conv encoders; p(x|z_g, z_l) and p(x~|z_l) discretized-logistic conv decoders.

beta = 1: the paper's setting for the swap test of Fig. 3 (Experiment 1.2; Fig. 2 used beta = 20,
and the paper reports the global/local split is robust to beta). Not given in the paper, chosen
here: patch 4 (a sprite at 32x32 spans up to 8 px, so 4-px patches break its shape), 8 global and
8 local dims, the Burgess et al. conv stack with (32, 32, 64, 64) channels, Adam(1e-4), batch 64.
"""
from disentax.config import base_config


def get_config():
    c = base_config("auxiliary_vae")  # beta 1, 4-px patches, 8 + 8 dims, logistic pixels
    c.dataset = "coloured_dsprites"
    c.num_steps = 100_000
    c.model.conv_channels = (32, 32, 64, 64)
    c.model.hidden = (256,)
    return c
