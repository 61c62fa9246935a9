"""Independent causal mechanisms (Parascandolo, Rojas-Carulla, Kilbertus & Schölkopf 2018) on the
scikit-learn digits under the paper's 10 mechanisms.

- 10 experts (Table 1: 4 x [3x3 conv 32, BN, ELU], 3x3 conv 1, sigmoid) and the Table 1
  discriminator; Adam at its defaults for both (Sec. 4); 200 identity steps, then 2,000
  competing steps (num_steps counts both).
- Data: `mechanism_digits`, digits upsampled to MNIST's 28x28 geometry (20x20 digit, 4-pixel
  margin), the training split halved into canonical and transformed images. Batch 64 (the paper
  does not say).
"""
from disentax.config import base_config


def get_config():
    c = base_config("icm")
    c.log_every = 100
    c.checkpoint_every = 500
    return c
