"""Selectivity of controllable factors and its policy-gradient surrogate (Thomas et al. (2018)).

Thomas et al. (2018), Eq. 1: a factor φ names a policy π_φ; following it from a state encoded as
h = f(s) leads to a state encoded as h' = f(s'); the selectivity

    S(h, φ) = E[ log A(h', h, φ) − log E_{p(ϕ|h)} A(h', h, ϕ) | s' ~ P^{π_φ} ]

rewards a variation h' − h that the score A matches to φ better than to the other factors ϕ. The
expectation over ϕ is estimated with the n factors sampled at the same state (App. A.1:
(1/n) Σ_i A(h', h, φ_i), n = 256 or 1024), among which the behaviour factor is one.

Two scores are in the paper, both here in log space (the ratio of Eq. 1 is a difference of logs,
and the mean of the denominator a logsumexp):

- the Gaussian kernel A = exp(−‖h' − (h + φ)‖² / (2σ²)), σ = √dim h (Sec. 4.1, App. A.2):
  `gaussian_kernel_log`;
- the positive projection A = max{0, ⟨h' − h, φ⟩} (Sec. 4.2): `positive_projection`, and its log
  with a floor, `positive_projection_log` = log(A + eps). The paper does not say how it takes the
  log of a score that is exactly zero for every variation that does not point along φ; a floor
  `eps` keeps the reward finite (at most log((n·mean A + … )/eps) below its ceiling log n) and its
  gradient zero where the projection is negative (the max clamps there), as it is in the paper's
  A. Our default eps = 1e-3 is a choice: small next to the projections of a unit variation on
  a factor of norm ≈ 1 (tanh outputs), large enough that one zero score does not dominate a batch.

The training signal (App. A.1, App. D): the selectivity of the sampled trajectory is the reward
f_θ of a policy-gradient estimate, ∇_θ E_π[f_θ] = E_π[∇_θ f_θ + f_θ ∇_θ log π_θ], the first term
the reward's own gradient (through h, h' and φ), the second REINFORCE with a state-dependent
baseline V and, because the actions are drawn from an ε-greedy behaviour μ rather than π,
importance weights w = Π_t π(a_t)/μ(a_t). Both terms carry w: E_μ[w ∇f + w (f − V) ∇log π] is
exactly ∇ E_π[f] (tests/test_selectivity.py checks it by enumeration). `reinforce_loss` is the
score-function part with the baseline's regression loss; the reward's own (direct) part is
−mean(w · S), left to the caller, which owns the differentiable reward.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["entropy", "gaussian_kernel_log", "positive_projection", "positive_projection_log", "reinforce_loss",
           "selectivity"]


def gaussian_kernel_log(h_next, h, phi, sigma: float | None = None):
    """log A(h', h, φ) = −‖h' − (h + φ)‖² / (2σ²) of the Gaussian kernel (Thomas et al. (2018), App. A.2).

    Args:
      h_next, h, phi: [..., K] (broadcast against each other; e.g. h [B, 1, K] against phi [B, n, K]).
      sigma: the kernel's width; None gives the paper's σ = √K (K = dim h).
    Returns:
      [...] log scores (≤ 0; very negative, never −inf, for far variations).
    """
    k = jnp.shape(h)[-1]
    sigma = math.sqrt(k) if sigma is None else sigma
    return -jnp.sum(jnp.square(h_next - (h + phi)), axis=-1) / (2.0 * sigma**2)


def positive_projection(h_next, h, phi):
    """A(h', h, φ) = max{0, ⟨h' − h, φ⟩} (Thomas et al. (2018), Sec. 4.2): [..., K] arrays -> [...]."""
    return jnp.maximum(jnp.sum((h_next - h) * phi, axis=-1), 0.0)


def positive_projection_log(h_next, h, phi, eps: float = 1e-3):
    """log(A + eps), A = max{0, ⟨h' − h, φ⟩} (Thomas et al. (2018), Sec. 4.2), the floor `eps` > 0
    keeping the log finite where the projection is not positive (module docstring): [..., K] -> [...]."""
    return jnp.log(positive_projection(h_next, h, phi) + eps)


def selectivity(log_a_behaviour, log_a_all):
    """Per-example selectivity (Thomas et al. (2018), Eq. 1, the denominator as in App. A.1):

        S_b = log A(h'_b, h_b, φ_b) − log((1/n) Σ_{i=1..n} A(h'_b, h_b, φ_i)).

    Args:
      log_a_behaviour: [B] log-score of the factor that was followed.
      log_a_all: [B, n] log-scores of the n factors sampled at the same state (the behaviour
        factor among them, so S ≤ log n).
    Returns:
      [B], by logsumexp: finite however negative the log-scores.
    """
    n = log_a_all.shape[-1]
    return log_a_behaviour - (jax.nn.logsumexp(log_a_all, axis=-1) - math.log(n))


def reinforce_loss(log_prob, reward, baseline, weight):
    """The score-function surrogate of Thomas et al. (2018), App. A.1 and D, and its baseline's loss.

        loss = −mean(w · (R − V) · log π)  +  mean((R − V)²)

    with R, w and (in the first term) V behind `stop_gradient`: the gradient of the first term is the
    REINFORCE part of ∇ E_π[f] = E_π[∇f + f ∇log π] with a baseline V that does not depend on the
    action (so it changes the variance, not the mean) and importance weights w = π/μ for actions
    drawn from a behaviour μ; the second term regresses V on R.

    Args:
      log_prob: [B] log π(a | ·) of the actions taken (summed over a trajectory's steps).
      reward: [B] R (the selectivity).
      baseline: [B] V, differentiable in its own parameters.
      weight: [B] w = Π_t π(a_t)/μ(a_t).
    Returns:
      (loss, {"policy_loss", "baseline_loss", "advantage"}) scalars.
    """
    reward, weight = jax.lax.stop_gradient(reward), jax.lax.stop_gradient(weight)
    advantage = reward - jax.lax.stop_gradient(baseline)
    policy_loss = -jnp.mean(weight * advantage * log_prob)
    baseline_loss = jnp.mean(jnp.square(reward - baseline))
    return policy_loss + baseline_loss, {"policy_loss": policy_loss, "baseline_loss": baseline_loss,
                                         "advantage": jnp.mean(advantage)}


def entropy(logits):
    """H(π) = −Σ_a π(a) log π(a) of the softmax of finite `logits` [..., A] -> [...] (the entropy bonus
    of Thomas et al. (2018), App. D). From log_softmax, so saturated logits give 0 · (large negative)
    = 0 for the vanishing actions, not NaN."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)
