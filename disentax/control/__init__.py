"""Planners for learned dynamics: finite-horizon LQR and iLQR (Li & Todorov 2004; Tassa, Erez & Todorov 2012),
as used on the latent model of Banijamali et al. (2018)."""
from disentax.control.ilqr import (
    ILQRResult,
    ilqr,
    lqr,
    lqr_rollout,
    quadratic_costs,
    rollout,
    trajectory_cost,
    warm_start,
)

__all__ = [
    "ILQRResult", "ilqr", "lqr", "lqr_rollout", "quadratic_costs", "rollout", "trajectory_cost", "warm_start",
]
