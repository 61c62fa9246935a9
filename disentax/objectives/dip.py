"""DIP-VAE (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts…", Sec. 2.2)
and the covariance penalty L_Σ (Kågebäck & Mogren 2017, "Disentanglement by penalizing
correlation", Sec. 2). Pure: arrays in, `(loss, aux)` out.
"""
from __future__ import annotations

import jax.numpy as jnp

from disentax import distributions as dist
from disentax.objectives.elbo import reconstruction_log_likelihood

DIP_VARIANTS = ("i", "ii")


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
):
    """DIP-VAE-I / -II: the negative ELBO plus the moment-matching penalty of Kumar et al. (2018),
    Eq. 5,

        E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z)) + λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)²,

    with C = `dip_covariance(mu, logvar, variant)` computed on the minibatch.

    Returns (loss, aux); aux: reconstruction, kl, kl_per_dim, elbo, dip_offdiag (Σ_{i≠j} C_ij²),
    dip_diag (Σ_i (C_ii − 1)²), dip_penalty.
    """
    rec = -reconstruction_log_likelihood(x, out, likelihood)
    kl_per_dim = dist.gaussian_kl(mu, logvar)
    kl = kl_per_dim.sum(-1)
    cov = dip_covariance(mu, logvar, variant)
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


__all__ = ["DIP_VARIANTS", "batch_covariance", "covariance_penalty", "dip_covariance", "dip_regularizer", "dip_vae"]
