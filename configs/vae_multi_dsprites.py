"""Matched standard VAE baseline for the Multi-Entity VAE (seed 003, Appendix A "Standard VAE").

Same encoder as `mvae_multi_dsprites` but its final feature map is projected by a linear layer
to one 60-dimensional Gaussian (matching 5 objects x 12 dims); the decoder is the MVAE's shared
object network g applied to the 60-d latent, followed by the renderer h. Everything else
(data, optimiser, annealing, 3e6 steps) as in `mvae_multi_dsprites`.
"""
from disentax.config import sibling_config, with_method


def get_config():
    # The architecture keys (enc_channels, g_hidden, ...) default to the MVAE's; model.latent_dim = 60.
    return with_method(sibling_config(__file__, "mvae_multi_dsprites"), "mvae_baseline")
