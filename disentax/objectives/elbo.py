"""The ELBO and its β-weighted and capacity-annealed variants.

All functions are pure: arrays in, `(loss, aux)` out, with `loss` the quantity to
minimise averaged over the batch and `aux` a dict of named scalar or per-dimension
terms (all batch means, in nats).
"""
from __future__ import annotations

import math

import chex
import jax.numpy as jnp

from disentax import distributions as dist

LIKELIHOODS = ("bernoulli", "gaussian", "logistic")
# Parameters of p(x|z) per image channel. Bernoulli: logits. Gaussian: the mean (its variance is
# fixed, see `reconstruction_log_likelihood`). Discretized logistic: location and log-scale.
_NUM_PARAMS = {"bernoulli": 1, "gaussian": 1, "logistic": 2}


def likelihood_params(likelihood: str) -> int:
    """Number of decoder outputs per image channel for `likelihood`."""
    try:
        return _NUM_PARAMS[likelihood]
    except KeyError:
        raise ValueError(f"unknown likelihood {likelihood!r}; allowed: {sorted(_NUM_PARAMS)}") from None


def split_decoder_output(out, likelihood: str):
    """Split decoder output [..., C*P] into the tuple of likelihood parameters, each [..., C]."""
    p = likelihood_params(likelihood)
    if p == 1:
        return (out,)
    return tuple(jnp.split(out, p, axis=-1))


def reconstruction_log_likelihood(x, out, likelihood: str = "bernoulli"):
    """log p(x | z) summed over pixels and channels → [B].

    - ``bernoulli``: `out` are logits; x in [0, 1] (binary or grey-level targets).
    - ``gaussian``: mean sigmoid(out), fixed variance 1/2, so that −log p(x|z) is the
      summed squared error plus a constant (the "l2" loss of disentanglement_lib).
    - ``logistic``: `out` holds (loc, log_scale) of a discretized logistic over 256 levels
      (Salimans et al. 2017), the colour-image likelihood of the auxiliary-task VAE (Anonymous
      2019, "Explicit Information Placement on Latent Variables using Auxiliary Generative
      Modelling Task").
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; allowed: {list(LIKELIHOODS)}")
    expected = x.shape[-1] * likelihood_params(likelihood)
    if out.shape[-1] != expected or out.shape[:-1] != x.shape[:-1]:
        raise ValueError(
            f"decoder output shape {out.shape} does not match images {x.shape} "
            f"for likelihood {likelihood!r} (expected last axis {expected})"
        )
    params = split_decoder_output(out, likelihood)
    if likelihood == "bernoulli":
        ll = dist.bernoulli_log_prob(x, params[0])
    elif likelihood == "gaussian":
        mean = 1.0 / (1.0 + jnp.exp(-params[0]))
        ll = dist.gaussian_log_prob(x, mean, jnp.full_like(mean, math.log(0.5)))
    else:
        ll = dist.discretized_logistic_log_prob(x, params[0], params[1])
    return ll.reshape(ll.shape[0], -1).sum(axis=-1)


def reconstruction_mean(out, likelihood: str = "bernoulli"):
    """The mean (or location) image of p(x|z), in [0, 1], for pictures."""
    params = split_decoder_output(out, likelihood)
    if likelihood in ("bernoulli", "gaussian"):
        return 1.0 / (1.0 + jnp.exp(-params[0]))
    return jnp.clip(params[0], 0.0, 1.0)


def _kl_terms(mu, logvar):
    chex.assert_rank(mu, 2)
    chex.assert_equal_shape([mu, logvar])
    kl_per_dim = dist.gaussian_kl(mu, logvar)  # [B, D]
    return kl_per_dim.sum(-1), kl_per_dim.mean(0)


def elbo(x, out, mu, logvar, *, likelihood: str = "bernoulli"):
    """Negative ELBO: E_q[−log p(x|z)] + KL(q(z|x) ‖ N(0, I)), batch mean (Kingma & Welling 2014).

    Args:
      x: images [B, H, W, C] in [0, 1].
      out: decoder output for one sample z ~ q(z|x) per image.
      mu, logvar: posterior parameters [B, D].
    Returns:
      (loss, aux) with aux keys `reconstruction` (−log p(x|z)), `kl`, `kl_per_dim` [D], `elbo`.
    """
    return beta_vae(x, out, mu, logvar, beta=1.0, likelihood=likelihood)


def beta_vae(x, out, mu, logvar, *, beta: float = 4.0, likelihood: str = "bernoulli"):
    """β-VAE (Higgins et al. 2017): E_q[−log p(x|z)] + β·KL(q(z|x) ‖ p(z)), batch mean."""
    rec = -reconstruction_log_likelihood(x, out, likelihood)
    kl, kl_per_dim = _kl_terms(mu, logvar)
    loss = jnp.mean(rec + beta * kl)
    aux = {
        "reconstruction": rec.mean(),
        "kl": kl.mean(),
        "kl_per_dim": kl_per_dim,
        "elbo": -(rec + kl).mean(),
    }
    return loss, aux


def capacity(step, *, c_start: float = 0.0, c_max: float = 25.0, c_steps: int = 100_000):
    """C(step): linear from c_start at step 0 to c_max at step c_steps, then held (Burgess et al. 2018)."""
    frac = jnp.clip(jnp.asarray(step, jnp.float32) / max(int(c_steps), 1), 0.0, 1.0)
    return c_start + (c_max - c_start) * frac


def annealed_vae(
    x,
    out,
    mu,
    logvar,
    *,
    step,
    gamma: float = 1000.0,
    c_start: float = 0.0,
    c_max: float = 25.0,
    c_steps: int = 100_000,
    likelihood: str = "bernoulli",
):
    """Capacity-annealed β-VAE (Burgess et al. 2018, Eq. 8):

        E_q[−log p(x|z)] + γ·|KL(q(z|x) ‖ p(z)) − C(step)|,

    with the |·| taken on the batch-mean KL, C rising linearly from c_start to c_max
    over c_steps. Defaults γ = 1000, C_max = 25 nats over 100k steps are the paper's dSprites
    settings (disentanglement_lib uses the same).
    """
    rec = -reconstruction_log_likelihood(x, out, likelihood)
    kl, kl_per_dim = _kl_terms(mu, logvar)
    c = capacity(step, c_start=c_start, c_max=c_max, c_steps=c_steps)
    loss = rec.mean() + gamma * jnp.abs(kl.mean() - c)
    aux = {
        "reconstruction": rec.mean(),
        "kl": kl.mean(),
        "kl_per_dim": kl_per_dim,
        "elbo": -(rec + kl).mean(),
        "capacity": c,
    }
    return loss, aux
