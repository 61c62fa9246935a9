"""ML-VAE (Bouchacourt et al. 2018, Sec. 4) on MNIST grouped by digit.

Reads the prepared TFDS dataset `mnist` (train split; `tfds build mnist --file_format=array_record`)
on the host: each group draws a digit, then its images uniformly among that digit's records (the
per-class tables of `disentax.data.class_index`, from one scan of the labels); batches are a pure
function of (seed, step), so a resumed run sees the same groups.

From the paper: style and content of 10 dims, decoder one 500-unit tanh layer; Bernoulli
likelihood here (the paper: Gaussian with learned variance). Adam(1e-3), batch 100 (the method's
default) as 10 groups of 10.
"""
from disentax.config import base_config


def get_config():
    c = base_config("ml_vae")
    c.dataset = "mnist"
    c.num_steps = 50_000
    c.model.encoder = "mlp"
    c.model.mlp_hidden = (500,)
    c.optimizer.learning_rate = 1e-3
    return c
