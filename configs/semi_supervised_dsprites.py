"""Semi-supervised structured VAE (Siddharth et al. 2017, seed 002) on procedural dSprites, y = shape.

q(y|x) over the 3 shapes (uniform prior), a 10-dim Gaussian style q(z|x,y) for the remaining
factors, p(x|y,z). The pre-encoder and decoder are the standard dSprites conv stacks (Burgess et
al. 2018 App. A.1, as in the other dSprites configs); Adam(1e-3) as in seed 002's appendix,
batch 64. Supervision: l = 10 labelled images per shape, r = 10 % labelled batches; plug-in
estimator; α = 50 for the explicit classifier term (seed 002's Eq. 4 alone has α = 0; see
`configs/semi_supervised_digits.py` for why the default adds it). `regression_factors` (none
here) adds continuous partially-supervised latents, see `semi_supervised_dsprites_regression`.
"""
from disentax.config import base_config


def get_config():
    config = base_config()
    config.method = "semi_supervised"
    config.dataset = "dsprites"
    config.batch_size = 64
    config.num_steps = 100_000
    config.model.latent_dim = 10
    config.optimizer.learning_rate = 1e-3
    config.label_factor = "shape"
    config.regression_factors = ()
    config.labels_per_class = 10
    config.supervision_rate = 0.1
    config.labelled_seed = 0
    config.estimator = "plugin"
    config.temperature = 0.67
    config.alpha = 50.0
    return config
