"""FactorVAE on dSprites with Kim & Mnih's five discriminator updates per VAE update.

Kim & Mnih 2018 (Sec. 6): "use five discriminator updates per VAE update (smaller
MLPs and fewer discriminator updates work fine, but we noticed slight improvements up to
this setting)". Everything else as in `factor_vae_dsprites.py` (γ = 35, 6 × 1000 discriminator).
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "factor_vae_dsprites")
    c.factor_vae.discriminator.steps_per_vae_step = 5
    return c
