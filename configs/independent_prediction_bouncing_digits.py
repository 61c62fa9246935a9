"""Disentangling video with independent prediction (Whitney & Fergus (2018)): the factored model,
two latent factors with independent transitions, on bouncing digits.

The paper's settings (App. A, App. C, Sec. 3.1): Adam 3e-4; k = 2 factors on moving MNIST; the
DCGAN encoder (3→64→128→256→512, then 512→32) and generator (512→256→128→64→3) with batch norm,
the combiner of the predicted prior and the image, per-factor transition MLPs of four 128-unit
SELU layers; a Gaussian observation model of fixed variance 0.25; evaluated by KSG estimates of
same- and cross-factor transition information (Table 2: 4.61 / 0.75, ELBO −2902 per frame).

Our departures:
- data: `bouncing_digits`, two digits each in its own colour plane bouncing in a 64x64 frame as in
  App. C, but the glyphs are scikit-learn's 8x8 digits upsampled to MNIST's 28x28 (offline; the
  dataset's `source="mnist"` takes real MNIST when prepared), and clips are drawn without end;
- not in the paper, chosen: per-factor dimension d = 16 (z_dim 32), clips of 10 frames, 16 clips
  per batch, 20,000 steps (the paper gives no training length; `--config.num_steps` to change);
- Table 1 and App. A disagree on the transition network; we follow App. A (see
  `disentax.models.sequential`).
"""
from disentax.config import base_config


def get_config():
    c = base_config("independent_prediction")
    c.num_steps = 20_000
    c.log_every = 100
    c.checkpoint_every = 1_000
    c.num_viz_images = 4
    return c
