"""Burgess et al. (2018), Sec. 4.3 (Eq. 7): dSprites generated from their ground-truth factors
through a capacity-limited q(z|f), C raised linearly from 0.5 to 25 nats.

γ = 1000, Adam 5e-4 and the standard conv decoder with a Bernoulli likelihood (App. A.1–A.2);
100,000 steps, C rising over all of them (the paper gives the range of C, not the length; this is
the length of its Eq. 8 runs). Batch 64 (not given). On a 2-core CPU `--config.num_steps=6000
--config.factor_capacity.c_steps=6000` runs the same sweep of C faster and coarser.
capacity.png plots the KL of each factor's latent against C (the paper's Fig. 3, top left).
"""
from disentax.config import base_config


def get_config():
    c = base_config("factor_capacity")
    c.dataset = "dsprites"
    c.log_every = 100
    c.checkpoint_every = 5_000
    return c
