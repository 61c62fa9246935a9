"""JADE (Karimi, Banijamali, Wong & Ghodsi (2018), "JADE: Joint Autoencoders for Dis-Entanglement")
on the scikit-learn digits: restyled digits as the scarce primary domain, the digits as they are as
the abundant secondary one.

- Networks (Sec. 3): primary CNN 4 x 3x3 conv {64, 96, 64, 8} + ReLU with 3 max-pools, secondary
  CNN 3 x 3x3 conv {32, 32, 16} with 3 max-pools, 20-d latents of which the first 10 (content)
  feed a shared MLP 3 x (500, ReLU, Dropout 0.5) -> 10 classes; decoders mirror the CNNs with 2x
  upsampling. Every term of Eq. 2 weighted 1 (the paper's).
- Data: `restyled_digits` (colour, inversion, textured background, noise), 10 labelled training
  images per class and nothing else of it (the paper: 100 per class of SVHN); all 1,438 training
  digits as the secondary domain (the paper: MNIST). Images upsampled to 16x16 on device.
- Chosen here (the paper gives none): Adam(1e-3), batch 64 pairs, 3,000 steps.
- Baselines on the same batches and budget: `--config.jade.variant=single` (primary CNN ->
  10-d bottleneck -> MLP) and `--config.jade.variant=paired` (both CNNs, one MLP, both losses).
- At the paper's unit weights the content posterior stays at the prior on this data and JADE
  classifies at chance; `--config.jade.classifier_weight=50` learns (benchmarks/RESULTS.md §11).
- Evaluation: classification error on the 359 restyled test digits (and the 359 plain ones);
  benchmarks/jade_study.py trains the three over 3 seeds.
- TFDS `svhn_cropped` + `mnist`: not wired yet (both are read on the host, at 32x32 and 28x28);
  the config to add once the host-side pair sampler exists.
"""
from disentax.config import base_config


def get_config():
    c = base_config("jade")  # restyled_digits, batch 64, Adam 1e-3, published widths
    c.num_steps = 3_000
    c.log_every = 100
    c.checkpoint_every = 1_000
    return c
