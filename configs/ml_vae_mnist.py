"""ML-VAE (Bouchacourt et al. 2018, seed 004 Sec. 4) on MNIST grouped by digit.

Needs the TFDS dataset `mnist` (registered; `pip install "disentax[tfds]"`). Training on it is not
wired yet: the grouped sampler needs a dataset that offers `factor_names=("label",)` and `sample_with_labels(key, labels)`
like `disentax.data.digits.Digits`.

Seed 004: style and content of 10 dims, decoder one 500-unit tanh layer; Bernoulli likelihood here
(the seed: Gaussian with learned variance). Adam(1e-3), batch 100 as 10 groups of 10.
"""
from disentax.config import base_config


def get_config():
    config = base_config()
    config.method = "ml_vae"
    config.dataset = "mnist"
    config.batch_size = 100
    config.num_steps = 50_000
    config.model.encoder = "mlp"
    config.model.mlp_hidden = (500,)
    config.optimizer.learning_rate = 1e-3
    config.style_dim = 10
    config.content_dim = 10
    config.group_factor = "label"
    config.group_size = 10
    config.ragged_groups = False
    config.viz_group_size = 5
    return config
