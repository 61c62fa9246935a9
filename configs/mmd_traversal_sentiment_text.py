"""Sentiment manipulation by MMD traversal (Larsson, Nilsson & Kågebäck 2018) on the procedural
review corpus `sentiment_text` (the stand-in for their IMDB / rotten tomatoes / product reviews).

- Model (Sec. 3.1, 3.3): a CNN encoder of 300-d word embeddings (learned: no word2vec offline)
  with filter heights 1-4 x 75 filters, max-pooled to a 300-d code z; a dense sentiment
  classifier on z; a single-layer GRU decoder with state 300, greedy until EOS.
- Training (Sec. 3.1, Sec. 4): batch 64; the autoencoder alone for `autoencoder_steps`, then the
  unweighted sum of reconstruction and classification cross-entropies. Adam 1e-3, 3,000 steps
  and the switch at 1,000 are chosen (the paper gives neither).
- Traversal (Sec. 3.2, 4.1): λ = 7e-5, 90 positive + 90 negative reference sentences, BFGS;
  σ (not given) by the median heuristic.
- Evaluation: 200 test sentences traversed to the opposite sentiment; the paper has no numbers.
"""
from disentax.config import base_config


def get_config():
    c = base_config("mmd_traversal")
    c.log_every = 100
    c.checkpoint_every = 500
    return c
