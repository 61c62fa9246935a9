"""Capacity-annealed β-VAE (Burgess et al. 2018, Sec. 5) on procedural dSprites.

Loss: reconstruction + γ·|KL − C(step)|, C rising linearly from c_start = 0 to
c_max = 25 nats over c_steps = 100k steps, γ = 1000: the paper's dSprites settings
(also disentanglement_lib's). Architecture from the paper's App. A.1. The paper trains
with Adam(5e-4); we keep disentanglement_lib's Adam(1e-4), batch 64, 300k steps, so that
methods compare at one optimiser setting (override with --config.optimizer.learning_rate=5e-4).
"""
from disentax.config import base_config


def get_config():
    return base_config("annealed_vae")
