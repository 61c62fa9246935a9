"""Brunner et al. (2018)'s REP-DE-1024: reconstruction plus German translation.

A character LSTM encoder (512 units), a 1024-wide representation layer, a reconstruction and a
German translation decoder (here the corpus's toy German). Table 1: perplexities 1.04 / 2.02;
Table 2: clustering error 22. Everything else as `multitask_seq2seq_multitask_text`.
"""
from disentax.config import sibling_config


def get_config():
    c = sibling_config(__file__, "multitask_seq2seq_multitask_text")
    c.multitask_seq2seq.tasks = ("rep", "de")
    c.multitask_seq2seq.representation_dim = 1024
    return c
