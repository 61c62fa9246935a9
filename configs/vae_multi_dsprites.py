"""Matched standard VAE baseline for the Multi-Entity VAE (seed 003, Appendix A "Standard VAE").

Same encoder as `mvae_multi_dsprites` but its final feature map is projected by a linear layer
to one 60-dimensional Gaussian (matching 5 objects x 12 dims); the decoder is the MVAE's shared
object network g applied to the 60-d latent, followed by the renderer h. Everything else
(data, optimiser, annealing, 3e6 steps) as in `mvae_multi_dsprites`.
"""
import importlib.util
from pathlib import Path


def get_config():
    spec = importlib.util.spec_from_file_location("_mvae_cfg", Path(__file__).with_name("mvae_multi_dsprites.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    c = module.get_config()
    c.method = "mvae_baseline"
    c.model.latent_dim = 60
    return c
