"""Semi-supervised structured VAE (Siddharth et al. 2017, Sec. 4.1) on MNIST.

Reads the prepared TFDS dataset `mnist` (train split; `pip install "disentax[tfds]"`, then
`tfds build mnist --file_format=array_record`, see the README's real-datasets section). Batches
are read on the host and prefetched: the labelled set (l records per class, fixed by
`semi_supervised.labelled_seed`) comes from one scan of the split's labels
(`disentax.data.class_index`), and each step's batch is wholly labelled with probability r, a
pure function of (seed, step).

Appendix of Siddharth et al.: 2 × 512 ReLU MLP, 50-dim style, Bernoulli likelihood, Adam(1e-3),
batch 100 (within the paper's 80–500); plug-in estimator. Supervision l = 100 per class (Fig. 5
row "100"), r = 10 %; α = 50 as in `semi_supervised_digits` (0 = the paper's Eq. 4 alone).
"""
from disentax.config import base_config


def get_config():
    c = base_config("semi_supervised")
    c.dataset = "mnist"
    c.batch_size = 100
    c.num_steps = 60_000
    c.model.encoder = "mlp"
    c.model.mlp_hidden = (512, 512)
    c.model.latent_dim = 50
    c.optimizer.learning_rate = 1e-3
    c.semi_supervised.labels_per_class = 100
    return c
