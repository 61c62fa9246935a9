"""Independently controllable factors with multistep policies (Thomas et al. (2018), Sec. 4.2): φ embeds
3-step policies, the score is the positive projection A = max{0, ⟨h' − h, φ⟩}, and a latent model
T_θ(h, φ) is trained to predict h_{t+3} (L_MB = ‖h_{t+3} − T_θ(h_t, φ)‖², in latent space only) with
a decoder alongside.

The paper's settings: 3-step policies, the max kernel, L_MB with T a two-layer fully connected net
(Sec. 4.2, App. D), the autoencoder loss; the environment of Sec. 4 (MazeBase, actions down, left,
right, up: `gridworld`). Fig. 3 shows decoded predictions T_θ(h_0, φ) next to the real end state.

Not in the paper, chosen: λ_MB = 1; the floor 1e-3 of log A (the projection is 0 for most
variations); K = 2 as in Sec. 4.1 (the paper does not give K here); the rest as
`controllable_factors_gridworld`.
"""
from disentax.config import base_config


def get_config():
    c = base_config("controllable_factors")
    c.dataset = "gridworld"
    c.controllable_factors.policy_steps = 3
    c.controllable_factors.kernel = "projection"
    c.controllable_factors.model_weight = 1.0
    c.num_steps = 5_000
    c.log_every = 100
    c.checkpoint_every = 1_000
    return c
