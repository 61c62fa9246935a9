"""Semi-supervised structured VAE (Siddharth et al. 2017, Sec. 4.1) on SVHN (cropped digits).

Reads the prepared TFDS dataset `svhn_cropped` (train split, 73,257 images of 32×32×3;
`tfds build svhn_cropped --file_format=array_record`), on the host, as `semi_supervised_mnist`
does: l labelled records per digit fixed by `semi_supervised.labelled_seed`, wholly labelled
batches at rate r.

Appendix of Siddharth et al.: a two-stage convolutional feature extractor before the MLP
pre-encoder and a two-stage deconvolutional decoder, trained end to end, Adam(3e-4), 100-dim style
(Fig. 4c), l = 100 labels per digit (Fig. 4d), plug-in estimator. Here: conv stack of 3 × 32
channels (32 → 4 px), dense (512, 512), logistic likelihood for colour images; r = 10 %, α = 50.
"""
from disentax.config import base_config


def get_config():
    c = base_config("semi_supervised")
    c.dataset = "svhn_cropped"
    c.batch_size = 100
    c.num_steps = 100_000
    c.model.conv_channels = (32, 32, 32)
    c.model.hidden = (512, 512)
    c.model.latent_dim = 100
    c.model.likelihood = "logistic"
    c.optimizer.learning_rate = 3e-4
    c.semi_supervised.labels_per_class = 100
    return c
