"""DIP-VAE (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts…", Sec. 2.2)
and the covariance penalty L_Σ (Kågebäck & Mogren 2017, "Disentanglement by penalizing
correlation", Sec. 2). Pure: arrays in, `(loss, aux)` out.

DIP-VAE's covariance is the minibatch's, or, with `previous`, the workshop version's running
estimate (`running_covariance`), whose state the caller keeps and passes back in.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.objectives.elbo import reconstruction_log_likelihood

DIP_VARIANTS = ("i", "ii")
DIP_COVARIANCES = ("batch", "running")
# Weight of the previous estimate in the running covariance; Kumar et al. (2018) give none. At
# 0.9 the estimate averages about 1/(1 − m) = 10 minibatches (640 codes at the default batch of
# 64 instead of 64 for a [D, D] matrix), while the codes of encoders more than 44 steps old
# weigh under 1 % in total, so the estimate follows the encoder. The penalty's gradient is
# scaled by (1 − m) (`running_covariance`): at batch norm's 0.99 the published λ's would act
# 100 times weaker than with the per-batch covariance, at 0.9 ten times.
DIP_RUNNING_MOMENTUM = 0.9


def batch_covariance(h, ddof: int = 0):
    """Sample covariance [p, p] of the rows of h [N, p]: (1/(N − ddof)) Σ_n (h_n − h̄)(h_n − h̄)ᵀ."""
    h = jnp.asarray(h)
    if h.ndim != 2:
        raise ValueError(f"activations must be [N, p], got shape {h.shape}")
    centred = h - h.mean(axis=0, keepdims=True)
    return centred.T @ centred / (h.shape[0] - ddof)


def dip_covariance(mu, logvar, variant: str = "i"):
    """The covariance DIP-VAE pushes towards the identity (Kumar et al. 2018, Eq. 4 and 5).

    - ``"i"``:  Cov_x[μ(x)]
    - ``"ii"``: Cov_q(z)[z] = E_x[Σ(x)] + Cov_x[μ(x)] (law of total covariance, diagonal Σ(x))

    Moments over the batch as the empirical distribution (1/B normalisation), as in the
    paper's E_x[·] and disentanglement_lib.
    """
    if variant not in DIP_VARIANTS:
        raise ValueError(f"unknown DIP-VAE variant {variant!r}; allowed: {', '.join(DIP_VARIANTS)}")
    cov = batch_covariance(mu, ddof=0)
    if variant == "ii":
        cov = cov + jnp.diag(jnp.mean(jnp.exp(logvar), axis=0))
    return cov


def running_covariance(batch_cov, previous, momentum):
    """The running estimate of the covariance DIP-VAE penalises, with the previous estimate held
    constant in the gradient. Kumar et al. (2018), workshop version, Sec. 2.2 after Eq. 5: "We
    maintain a running estimate of Cov_p(x)(μ_φ(x)) which is updated with every minibatch of
    x ∼ p(x). The gradient for the current minibatch can be computed by treating the previous
    estimate of Cov_p(x)(μ_φ(x)) as constant." The update rule is not given; chosen here:

        C_t = m · stop_gradient(C_{t−1}) + (1 − m) · C_batch,

    an exponential moving average of the minibatch covariances with momentum m (the weight of the
    old estimate, as in batch norm). Only the current batch's contribution carries a gradient, so
    ∂C_t/∂θ = (1 − m) · ∂C_batch/∂θ: at the same value of C_t, the penalty's gradient is (1 − m)
    times that of the per-batch objective. m = 0 is the per-batch covariance exactly.
    """
    return momentum * jax.lax.stop_gradient(previous) + (1.0 - momentum) * batch_cov


def dip_regularizer(cov, lambda_od: float, lambda_d: float):
    """λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)²  (Kumar et al. 2018, Eq. 5)."""
    diag = jnp.diagonal(cov)
    off = jnp.sum(jnp.square(cov)) - jnp.sum(jnp.square(diag))
    return lambda_od * off + lambda_d * jnp.sum(jnp.square(diag - 1.0)), off, jnp.sum(jnp.square(diag - 1.0))


def dip_vae(
    x,
    out,
    mu,
    logvar,
    *,
    lambda_od: float = 10.0,
    lambda_d: float = 100.0,
    variant: str = "i",
    likelihood: str = "bernoulli",
    previous=None,
    momentum=DIP_RUNNING_MOMENTUM,
):
    """DIP-VAE-I / -II: the negative ELBO plus the moment-matching penalty of Kumar et al. (2018),
    Eq. 5,

        E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z)) + λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)².

    - `previous=None`: C = C_batch = `dip_covariance(mu, logvar, variant)` of the minibatch.
    - `previous` [D, D] given (the estimate after the last step): C is the running estimate
      C_t = m·stop_gradient(C_{t−1}) + (1 − m)·C_batch with m = `momentum` (`running_covariance`),
      the workshop version's scheme; no gradient reaches `previous`. For variant "ii" the average
      runs over the whole C_batch = E_x[Σ(x)] + Cov_x[μ(x)].

    Returns (loss, aux); aux: reconstruction, kl, kl_per_dim, elbo, dip_offdiag (Σ_{i≠j} C_ij²),
    dip_diag (Σ_i (C_ii − 1)²), dip_penalty, and with `previous` also dip_covariance: C_t, the
    estimate to pass as `previous` at the next step (behind stop_gradient).
    """
    rec = -reconstruction_log_likelihood(x, out, likelihood)
    kl_per_dim = dist.gaussian_kl(mu, logvar)
    kl = kl_per_dim.sum(-1)
    cov = dip_covariance(mu, logvar, variant)
    if previous is not None:
        if jnp.shape(previous) != cov.shape:
            raise ValueError(f"previous covariance must be {cov.shape}, got shape {jnp.shape(previous)}")
        if not isinstance(momentum, jax.Array) and not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        cov = running_covariance(cov, previous, momentum)
    penalty, off, diag = dip_regularizer(cov, lambda_od, lambda_d)
    loss = jnp.mean(rec + kl) + penalty
    aux = {
        "reconstruction": rec.mean(),
        "kl": kl.mean(),
        "kl_per_dim": kl_per_dim.mean(0),
        "elbo": -(rec + kl).mean(),
        "dip_offdiag": off,
        "dip_diag": diag,
        "dip_penalty": penalty,
    }
    if previous is not None:
        aux["dip_covariance"] = jax.lax.stop_gradient(cov)
    return loss, aux


def covariance_penalty(h):
    """L_Σ = (1/p²)·‖C‖₁ (Kågebäck & Mogren 2017, "Disentanglement by penalizing correlation",
    Sec. 2).

    C is the sample covariance (1/(N − 1) normalisation) of the activations h [N, p] over the
    batch and ‖C‖₁ = Σ_{i,j} |C_ij| its element-wise L1 norm, diagonal included: the diagonal
    term is what switches off superfluous dimensions. Add λ·L_Σ to any loss.

    Returns (penalty, aux) with aux {"covariance": C}.
    """
    h = jnp.asarray(h)
    if h.ndim != 2 or h.shape[0] < 2:
        raise ValueError(f"activations must be [N, p] with N >= 2, got shape {h.shape}")
    cov = batch_covariance(h, ddof=1)
    p = h.shape[1]
    return jnp.sum(jnp.abs(cov)) / (p * p), {"covariance": cov}


__all__ = ["DIP_COVARIANCES", "DIP_RUNNING_MOMENTUM", "DIP_VARIANTS", "batch_covariance", "covariance_penalty",
           "dip_covariance", "dip_regularizer", "dip_vae", "running_covariance"]
