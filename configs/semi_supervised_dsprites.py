"""Semi-supervised structured VAE (Siddharth et al. 2017) on procedural dSprites, y = shape.

q(y|x) over the 3 shapes (uniform prior), a 10-dim Gaussian style q(z|x,y) for the remaining
factors, p(x|y,z). The pre-encoder and decoder are the standard dSprites conv stacks (Burgess et
al. 2018 App. A.1, as in the other dSprites configs); Adam(1e-3) as in the appendix of Siddharth
et al., batch 64. Supervision: l = 10 labelled images per shape, r = 10 % labelled batches;
plug-in estimator; α = 50 for the explicit classifier term (the paper's Eq. 4 alone has α = 0; see
`configs/semi_supervised_digits.py` for why the default adds it). `semi_supervised.regression_factors`
(none here) adds continuous partially-supervised latents, see `semi_supervised_dsprites_regression`.
"""
from disentax.config import base_config


def get_config():
    c = base_config("semi_supervised")
    c.num_steps = 100_000
    c.optimizer.learning_rate = 1e-3
    c.semi_supervised.label_factor = "shape"
    return c
