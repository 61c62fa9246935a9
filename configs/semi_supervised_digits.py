"""Semi-supervised structured VAE (Siddharth et al. 2017) on the scikit-learn 8×8 digits.

The class-conditional model of Siddharth et al. (2017) (appendix, "The class-conditional model for
MNIST and SVHN"): q(y|x) over 10 digits with a uniform prior, a 50-dim Gaussian style q(z|x,y),
p(x|y,z). Networks: MLP pre-encoder of 2 × 512 ReLU units, Bernoulli likelihood, Adam(1e-3) with
default moments, batch 100 (the paper: "2-3 layer MLP with 512 nodes", "learning rate of 0.001",
"minibatches ... 80-500"). y is fed downstream by the plug-in estimator (Sec. 3), the paper's
choice; `--config.semi_supervised.estimator=concrete` uses a Concrete relaxation at temperature 2/3
(Maddison et al. 2017's recommended value for 10 categories' relaxed samples).

Supervision: l = 10 labelled images per class (the smallest l of the paper's Fig. 5), seen in
r = 10 % of the batches (the higher rate of its Fig. 8). `semi_supervised.alpha` weights the
explicit classifier term α·log q(y_i|x_i) on labelled batches; the paper's Eq. 4 has none (α = 0),
but with a Bernoulli likelihood Eq. 4 alone drives q(y_i|x_i) towards exp(L_{x|y} − 1) ≈ 0 (see
`disentax.objectives.semi_supervised`), so the default adds it with α = 50 nats per label, the
order of magnitude of L_{x|y} here (≈ 25–40 nats per image; not tuned). Measured with
`benchmarks/weak_supervision_digits.py` (2,000 steps, one seed): α = 0 gives 98–99.7 % held-out
error (worse than chance: the classifier learns to avoid the given labels), α = 50 gives 31–35 %
at l = 1 and 15–18 % at l = 10 for r ∈ {0.01, 0.1, 0.5}. `--config.semi_supervised.alpha=0` is
the paper's objective.
"""
from disentax.config import base_config


def get_config():
    c = base_config("semi_supervised")  # l = 10, r = 0.1, plug-in y, alpha = 50
    c.dataset = "digits"
    c.batch_size = 100
    c.num_steps = 5_000
    c.model.encoder = "mlp"
    c.model.mlp_hidden = (512, 512)
    c.model.latent_dim = 50
    c.optimizer.learning_rate = 1e-3
    c.num_viz_images = 10
    return c
