"""Text attribute transfer with a collaborative classifier (Melnyk, dos Santos, Wadhawan, Padhi & Kumar
(2018)) on the procedural sentiment corpus.

- Eq. 7 with λ1 … λ6 = 1 (the paper asks only for λ_i > 0; chosen), every term logged.
- E, G: GRUs of width 128, embeddings 64; C: Kim (2014)'s CNN, heights 3, 4, 5 × 100 filters (the paper
  gives no sizes; chosen). Sampled sentences pass gradients by the straight-through Gumbel-softmax, τ = 1
  (the paper does not say how; chosen, see `disentax.methods.attribute_transfer`).
- Adam 1e-3, batch 64, 3,000 steps (chosen: a CPU budget of about 5 minutes of training at ~0.1 s a step).
- The ablation of Eq. 2: `--config.attribute_transfer.lambda_cnt_rec=0`.
"""
from disentax.config import base_config


def get_config():
    c = base_config("attribute_transfer")
    c.log_every = 100
    c.checkpoint_every = 1000
    return c
