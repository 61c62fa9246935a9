"""The triplet-loss baseline of Ridgeway & Mozer (2018) on procedural identity sprites: every triplet
of each minibatch, Euclidean distances, margin 1 (chosen here: the paper does not give one).

Everything else as `configs/f_statistic_identity_sprites.py` (12 identities x 10 images, 22-d
embedding, Adam 1e-4, 10,000 steps, fold 0 of 5 held out), so the two compare on one budget.
"""
from disentax.config import base_config


def get_config():
    c = base_config("triplet")
    c.num_steps = 10_000
    c.log_every = 200
    c.checkpoint_every = 1_000
    return c
