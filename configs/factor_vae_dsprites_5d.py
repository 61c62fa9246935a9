"""FactorVAE on dSprites with the seed's five discriminator updates per VAE update.

Kim & Mnih 2018 (seed 003, Sec. 6): "use five discriminator updates per VAE update (smaller
MLPs and fewer discriminator updates work fine, but we noticed slight improvements up to
this setting)". Everything else as in `factor_vae_dsprites.py` (γ = 35, 6 × 1000 discriminator).
"""
import importlib.util
from pathlib import Path


def get_config():
    path = Path(__file__).with_name("factor_vae_dsprites.py")
    spec = importlib.util.spec_from_file_location("_factor_vae_dsprites_base", path)
    base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(base)
    config = base.get_config()
    config.discriminator.steps_per_vae_step = 5
    return config
