"""Independently controllable factors (Thomas et al. (2018), Sec. 4.1): the grid world with the redundant
actions, K = 2, the Gaussian kernel, one-step policies and the autoencoder loss.

The paper's settings: a MazeBase-like 64x64 world, a red agent among orange blocks, the actions down,
left, right, up plus a second up and a down+left (Sec. 4.1); h of K = 2 dimensions (for the figures);
factors φ = Φ(h, z), z ~ N(0, I_2), n = 256 per state (App. A.1); A(h', h, φ) =
exp(−‖h' − (h + φ)‖² / (2σ²)), σ = √K (App. A.2); only permissible actions (App. A.2; `gridworld`
has no no-op); the selectivity, an autoencoder loss and an entropy bonus (App. D). The paper has no
numbers (Fig. 2 shows four modes of h' − h and a lattice of h).

Not in the paper, chosen (the method's defaults, `disentax.methods.controllable_factors`): Adam 5e-4,
batch 64, ε = 0.1, β_H = 0.01, λ_AE = 1 on the per-image sum of squared errors, 32-channel encoder,
64-unit hidden layers, and 5,000 steps (no training length is given).

Measured on a 2-core CPU (encoder width 8, batch 32; not a test, not the paper's numbers): with
λ_AE = 1, 0.01 or even 0.001 the variation ‖h' − h‖ collapsed (0.7 -> 0.03-0.1) within ~100 steps
and nothing was learned in 1,000 steps (best |corr| x 0.18-0.23, y 0.15-0.28; untrained 0.30, 0.27);
with `--config.controllable_factors.ae_weight=0` the selectivity took off after ~700 steps and h
recovered y (best |corr| 0.95 after 1,000-2,000 steps) but not x (0.06-0.15): the policies collapsed
to the vertical actions, the mode collapse of Sec. 5. That was seed 0; with seed 1 (λ_AE = 0) nothing
was learned in 1,000 steps either.
"""
from disentax.config import base_config


def get_config():
    c = base_config("controllable_factors")
    c.dataset = "gridworld_redundant"
    c.num_steps = 5_000
    c.log_every = 100
    c.checkpoint_every = 1_000
    return c
