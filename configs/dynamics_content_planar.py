"""Disentangling dynamics and content for control and planning (Banijamali et al. (2018)) on the planar
system: X = 8,000 triples (x_t, u_t, x_t+1) with the disc agent, Y = 2,000 action-free observations
with the cross agent, one encoder and one decoder for both (Sec. 4).

The paper's settings: the planar system of 40x40 top-down images with six obstacles and 2-D actions;
8,000 X triples and 2,000 Y observations; locally linear latent dynamics (Eq. 2) trained with Eq. 5;
Eq. 6's prior for Y; content priors with different means; 20 planning runs per set (Table 1: X 3.6 /
6.2 / 21.4 / 100 %, Y 3.9 / 6.3 / 22.0 / 100 %).

Not in the paper, chosen (see `disentax.methods.dynamics_content` for the reasons):
- networks: E2C's planar MLPs (two 150-unit ReLU layers for the encoder, decoder and backward
  network, two 100-unit layers for the transition, A = I + v rᵀ), z_dim = 2, w_dim = 2;
- Adam 1e-3, batch 128 (X triples and as many Y observations), 20,000 steps;
- content priors N(∓1, I); Eq. 6's prior behind stop_gradient; content read from another image of the set;
- Y examples paired with the X-view of their own state, used only as Eq. 6's prior input;
- planning: receding-horizon iLQR, T = 40 steps, plans of 20 steps, 5 iterations per replanning,
  Eq. 7 on true positions in map sides with Q = I, R = 0.01 I on actions in bound units, success
  within 2 px of the goal.

Measured on CPU (12 ms a step): see `reproduce/dynamics_content_planar.py` and reproduce/RESULTS.md.
With content read from the image itself (`content_from=x_t` or `x_next`, the literal Eqs. 5 and 3) the
content latent carried the position and the dynamics latent stayed unorganised (0 % planning success
after 20,000 steps); with the default `other` the latent map orders the positions. The planner with a
perfect embedding reaches 70-90 % of the in-sight `random` pairs and none of the `corners` runs (the
obstacles on the diagonal): see `disentax.methods.dynamics_content`.
"""
from disentax.config import base_config


def get_config():
    c = base_config("dynamics_content")
    c.num_steps = 20_000
    c.log_every = 500
    c.checkpoint_every = 5_000
    c.diagnostics_points = 0
    return c
