"""Matched standard VAE baseline for the Multi-Entity VAE (Nash et al. 2017, Appendix A "Standard
VAE").

Same encoder as `mvae_multi_dsprites` but its final feature map is projected by a linear layer
to one 60-dimensional Gaussian (matching 5 objects x 12 dims); the decoder is the MVAE's shared
object network g applied to the 60-d latent, followed by the renderer h. Derived from
`mvae_multi_dsprites` by `with_method(..., "mvae_baseline")`: its data and 3e6 steps carry over;
the optimiser (Adam 1e-3), its annealing to 1e-5 over 3e6 steps, the architecture keys
(`config.mvae_baseline.enc_channels`, `g_hidden`, ...) and model.latent_dim = 60 are the
`mvae_baseline` method's defaults, which match the MVAE's.
"""
from disentax.config import sibling_config, with_method


def get_config():
    # The architecture keys (enc_channels, g_hidden, ...) default to the MVAE's; model.latent_dim = 60.
    return with_method(sibling_config(__file__, "mvae_multi_dsprites"), "mvae_baseline")
