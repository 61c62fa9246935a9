"""MoCoGAN (Tulyakov, Liu, Yang & Kautz (2018), "MoCoGAN: decomposing motion and content for video
generation") on procedural shape-motion clips, scored by the average content distance (Table 1:
reference 0, VGAN 5.02, MoCoGAN 1.79).

Defaults and their sources (the paper's short version leaves them open; they are the values of the
authors' released code, `sergeytulyakov/mocogan`, unless marked chosen):

- d_C = 50, d_M = 10, d_E = 10; the GRU's hidden state is the motion code (no linear map after it)
  and its initial state is drawn from N(0, I) for each clip.
- G_I the DCGAN generator of width 64 (a 4x4x512 map up to 64x64); D_I a DCGAN discriminator of
  width 64; D_V 4x4x4 convolutions with stride (1, 2, 2) (widths 64, 128, 256, 512, BN from the
  second, LeakyReLU 0.2) and a last layer over the remaining 4x4x4 map; T = 16 (paper, Sec. 3).
- Adam 2e-4, β = (0.5, 0.999) for the generator and both critics, one update of each per step.

Departures (chosen): one batch of 16 clips per step feeds both critics (D_I sees one frame of each
clip, S_1; D_V each whole 16-frame clip, S_T), where the released code draws 10 images and 3 videos
from separately sampled clips; D_I is the DCGAN discriminator with a dense head, not the released
patch discriminator (a 4x4 map of logits); no weight decay (the released optimisers add an L2 term
of 1e-5); clips are drawn without end from the procedural dataset rather than from 4,000 fixed
videos.

Length: 100,000 steps, the released code's default number of iterations: a GPU budget (not timed on
a GPU here). On 2 CPU cores (XLA:CPU, measured once) a step takes 8.5 s at these sizes, about 105
steps in 15 minutes; `--config.mocogan.base=32 --config.batch_size=8` takes 1.2 s (about 720 steps
in 15 minutes), enough to check that training runs, not to learn the shapes.
"""
from disentax.config import base_config


def get_config():
    c = base_config("mocogan")
    c.dataset = "shape_motion"
    c.num_steps = 100_000
    c.log_every = 200
    c.checkpoint_every = 5_000
    return c
