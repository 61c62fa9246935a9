"""Brunner et al. (2018)'s REP-1024: the single-task (reconstruction-only) autoencoder.

A character LSTM encoder (512 units), a 1024-wide representation layer and one decoder that
reconstructs the characters (Table 1: REP perplexity 1.05; Table 2: clustering error 149, the worst
of the paper's models). Everything else as `multitask_seq2seq_multitask_text` (chosen there: Adam
1e-3, batch 64, 30,000 steps, clipping at 5).
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "multitask_seq2seq_multitask_text")
    c.multitask_seq2seq.tasks = ("rep",)
    c.multitask_seq2seq.representation_dim = 1024
    return c
