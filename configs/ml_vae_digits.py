"""ML-VAE (Bouchacourt et al. 2018) on the scikit-learn 8×8 digits, grouped by label.

The paper's MNIST setting: style and content of 10 dims each, decoder one 500-unit tanh layer
(`MLPDecoder` with model.mlp_hidden=(500,)), encoder the same width (ReLU). Likelihood: Bernoulli
on the grey levels (the paper used a Gaussian with a learned variance; the foundation's Gaussian
has a fixed one). Adam(1e-3), batch 100 (the method's default) as 10 groups of 10 images of one
digit each; the paper does not state its group size. `--config.ml_vae.ragged_groups=true` draws
random group sizes each batch.
"""
from disentax.config import base_config


def get_config():
    c = base_config("ml_vae")  # 10 + 10 dims, groups of 10 sharing the label
    c.dataset = "digits"
    c.num_steps = 5_000
    c.model.encoder = "mlp"
    c.model.mlp_hidden = (500,)
    c.optimizer.learning_rate = 1e-3
    c.num_viz_images = 10
    return c
