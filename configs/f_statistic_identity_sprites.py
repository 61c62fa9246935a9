"""The F-statistic loss (Ridgeway & Mozer 2018, "Discovering disentangled representations with the F
statistic loss") on procedural identity sprites, fold 0 of 5 held out.

- Minibatches of 12 identities x 10 images (Sec. 2), a 22-d embedding and d = 2 (Sec. 3, Fig. 3),
  Adam 1e-4 (Sec. 2). The paper stops early on a validation split's Recall@1; this config trains a
  fixed 10,000 steps (`--config.num_steps` to change; `--config.f_statistic.fold=1..4` for the
  other folds).
- Data: `identity_sprites`: 54 identities = shape (3) x scale (3) x colour (6), each seen at 8
  orientations x 8 x 8 positions; the paper's game sprites have 672 identities of 7 attributes.
- Evaluation: Recall@1/2/4/8 among held-out identities, and per attribute value the AUC of the
  best single dimension (the paper's Fig. 3). `configs/triplet_identity_sprites.py` is the
  triplet-loss baseline on the same encoder and batches.
"""
from disentax.config import base_config


def get_config():
    c = base_config("f_statistic")
    c.num_steps = 10_000
    c.log_every = 200
    c.checkpoint_every = 1_000
    return c
