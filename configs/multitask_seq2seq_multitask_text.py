"""Brunner, Wang, Wattenhofer & Weigelt (2018)'s REP-DE-POS-256 on the procedural multitask corpus.

- A character LSTM encoder, a 256-wide representation layer, decoders for reconstruction (REP),
  German translation (DE) and POS tagging (POS): the paper's best model (Table 2, R-D-P-256,
  clustering error 3; Table 1 perplexities 1.14 / 2.05 / 1.10). All LSTMs 512 units (Sec. 3.4).
- Data: `multitask_text`, the stand-in for Europarl En/De + NLTK tags (Sec. 3.3): toy translations
  (lexicon map + reordering) and the grammar's tags, 40,000 training sentences.
- Not in the paper, chosen: Adam 1e-3, batch 64, 30,000 steps, gradient clipping at global norm 5,
  embeddings of 128 (the method's defaults; see `disentax.methods.multitask_seq2seq`).

Siblings: `multitask_seq2seq_rep` (R-1024, error 149) and `multitask_seq2seq_rep_de` (R-D-1024, 22).
"""
from disentax.config import base_config


def get_config():
    c = base_config("multitask_seq2seq")
    c.multitask_seq2seq.tasks = ("rep", "de", "pos")
    c.multitask_seq2seq.representation_dim = 256
    c.checkpoint_every = 2000
    return c
