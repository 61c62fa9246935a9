"""HFVAE (Esmaeili et al. 2019) on procedural dSprites.

Latents (the paper's Table 2): a 3-way Concrete group (shape) and a 10-d Gaussian group.
β = 4 (TC between groups), γ = 3 (TC within groups), α = 1: the dSprites setting of the paper's
Table 3. Estimator: the paper's Sec. 3.1, which recommends large batches ("batch sizes
(512-1024) needed to approximate the inference marginal"), hence batch 512. Concrete
temperature 0.66 ≈ 2/3, the value Maddison et al. 2017 recommend; the prior on the Concrete
group is Concrete(uniform logits, same temperature). The paper's appendix with its optimiser
settings is not in the text the library was written from, so Adam(1e-4) and the conv
architecture of base_config (disentanglement_lib) are kept.
"""
from disentax.config import base_config


def get_config():
    c = base_config("hfvae")
    c.batch_size = 512
    return c
