"""The ELBO of a sequential VAE with a learned Markov prior over the latents of each frame.

Whitney & Fergus (2018), "Disentangling video with independent prediction", App. B: for a clip
x_1..x_T, latents Z_1..Z_T, a prior p(Z_1) = N(0, I), p(Z_t | Z_{t−1}) learned, and a filtering
posterior q(Z|X) = Π_t q(Z_t | Z_{t−1}, x_t),

    L = E_q Σ_t log p(x_t | Z_t) − KL(q(Z_1|x_1) ‖ p(Z_1)) − Σ_{t≥2} E_{Z_{t−1}~q} KL(q(Z_t | Z_{t−1}, x_t) ‖ p(Z_t | Z_{t−1})).

With Gaussian q_t and p_t of diagonal covariance each KL is closed form; the expectation over
Z_{t−1} is the one sample the filter drew (the prior p_t was computed from it). The functions here
take the per-step arrays the filter produced and know nothing of networks, so the bound is a plain
function of arrays that can be tested against a loop over steps.
"""
from __future__ import annotations

import math

import jax.numpy as jnp

from disentax import distributions as dist

__all__ = ["OBSERVATION_VARIANCE", "fixed_variance_gaussian_log_likelihood", "sequential_elbo"]

# The fixed variance of the Gaussian observation model on moving MNIST (Whitney & Fergus (2018), App. A).
OBSERVATION_VARIANCE = 0.25


def fixed_variance_gaussian_log_likelihood(x, mean, variance: float = OBSERVATION_VARIANCE, event_ndims: int = 3):
    """log N(x; mean, variance·I) summed over the last `event_ndims` axes (pixels and channels).

    Per element: −½ (log(2π·variance) + (x − mean)² / variance). For a frame [..., H, W, C] the
    default sums over H, W and C, so a clip [B, T, H, W, C] gives [B, T]: log p(x_t | Z_t) per step.
    Whitney & Fergus (2018), App. A: variance 0.25 on moving MNIST, 0.05 on their street videos.
    (`disentax.objectives.reconstruction_log_likelihood`'s "gaussian" has variance ½ and a sigmoid
    inside; this one takes the mean as it is.)
    """
    variance = float(variance)
    if not variance > 0:
        raise ValueError(f"the observation variance must be > 0, got {variance}")
    x, mean = jnp.asarray(x), jnp.asarray(mean)
    if x.shape != mean.shape:
        raise ValueError(f"the mean {mean.shape} must have the shape of the observations {x.shape}")
    if not 0 <= int(event_ndims) <= x.ndim:
        raise ValueError(f"event_ndims must be in [0, {x.ndim}] for observations of shape {x.shape}, got {event_ndims}")
    ll = dist.gaussian_log_prob(x, mean, math.log(variance))
    return ll.sum(axis=tuple(range(x.ndim - int(event_ndims), x.ndim)))


def sequential_elbo(log_px, q_mean, q_logvar, p_mean, p_logvar, *, factor_dim: int | None = None):
    """Negative ELBO of App. B, batch mean, in nats per clip (Whitney & Fergus (2018)).

        loss = −(1/B) Σ_b [Σ_t log p(x_{b,t} | Z_{b,t}) − Σ_t Σ_d KL(q_{b,t,d} ‖ p_{b,t,d})]

    Args:
      log_px: log p(x_t | Z_t) of each clip and step, [B, T], Z_t the posterior sample.
      q_mean, q_logvar: the filtering posterior q(Z_t | Z_{t−1}, x_t) of each step, [B, T, D].
      p_mean, p_logvar: the prior of each step, [B, T, D]: the caller fills step 1 with N(0, I)
        (zeros) and the later steps with the transition's prediction from the sampled Z_{t−1}.
      factor_dim: d, the size of each of the D / d consecutive factors whose KL is reported
        (`kl_per_factor`); default D (one factor).
    Returns:
      (loss, aux) with aux: `elbo`, `reconstruction` (−Σ_t log p(x_t|Z_t)), `kl` (Σ_t KL), all per
      clip and batch means; `kl_per_step` [T] and `kl_per_factor` [D / d] (batch means, the latter
      summed over steps).
    """
    log_px = jnp.asarray(log_px)
    q_mean, q_logvar, p_mean, p_logvar = map(jnp.asarray, (q_mean, q_logvar, p_mean, p_logvar))
    if log_px.ndim != 2:
        raise ValueError(f"log_px must be [B, T] (one log-likelihood per clip and step), got shape {log_px.shape}")
    expected = (*log_px.shape, q_mean.shape[-1] if q_mean.ndim == 3 else -1)
    for name, a in (("q_mean", q_mean), ("q_logvar", q_logvar), ("p_mean", p_mean), ("p_logvar", p_logvar)):
        if a.shape != expected:
            raise ValueError(f"{name} must be [B, T, D] = {expected} to match log_px {log_px.shape}, got {a.shape}")
    dim = expected[-1]
    d = dim if factor_dim is None else int(factor_dim)
    if d < 1 or dim % d:
        raise ValueError(f"factor_dim must be a positive divisor of the latent dimension {dim}, got {factor_dim}")
    kl = dist.gaussian_kl(q_mean, q_logvar, p_mean, p_logvar)  # [B, T, D]
    kl_step = kl.sum(-1)  # [B, T]
    rec = -log_px.sum(-1)  # [B]
    kl_clip = kl_step.sum(-1)  # [B]
    loss = jnp.mean(rec + kl_clip)
    aux = {
        "elbo": -loss,
        "reconstruction": rec.mean(),
        "kl": kl_clip.mean(),
        "kl_per_step": kl_step.mean(0),
        "kl_per_factor": kl.reshape(*kl.shape[:2], dim // d, d).sum((1, 3)).mean(0),
    }
    return loss, aux
