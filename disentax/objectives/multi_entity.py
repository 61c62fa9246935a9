"""Multi-Entity VAE objective pieces (Nash et al. 2017, Sec. 2.1): per-candidate KL,
top-N selection by KL ("maximal information attention") and the ELBO over a set of objects.

Pure functions of arrays; jit/vmap/grad safe.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.objectives.elbo import reconstruction_log_likelihood


def candidate_kl(mu, logvar):
    """D_kl^s = KL(q(z_s|x) || N(0, I)) of each candidate, summed over its D dims: [..., S, D] -> [..., S]."""
    return jnp.sum(dist.gaussian_kl(mu, logvar), axis=-1)


def select_top_n(mu, logvar, n: int):
    """The N candidates with the largest KL (Nash et al. 2017, Sec. 2.1, "candidate sub-selection").

    Args:
      mu, logvar: candidate posteriors [B, S, D].
      n: number of object latents N (static), 1 <= N <= S.
    Returns:
      (mu [B, N, D], logvar [B, N, D], kl [B, N], index [B, N]) in descending KL order.

    The indices come from `lax.top_k` (piecewise constant, so no gradient through the choice);
    the selected parameters are gathered, so gradients flow to the chosen candidates' parameters
    and to nothing else.
    """
    s = mu.shape[-2]
    if not 1 <= n <= s:
        raise ValueError(f"number of objects must be in [1, {s}] (the number of candidates), got {n}")
    kl_all = candidate_kl(mu, logvar)
    _, index = jax.lax.top_k(jax.lax.stop_gradient(kl_all), n)
    take = lambda a: jnp.take_along_axis(a, index[..., None], axis=-2)
    mu_sel, logvar_sel = take(mu), take(logvar)
    kl = jnp.take_along_axis(kl_all, index, axis=-1)
    return mu_sel, logvar_sel, kl, index


def multi_entity_elbo(x, out, mu, logvar, *, likelihood: str = "bernoulli", beta: float = 1.0):
    """Negative ELBO of the MVAE: E_q[-log p(x | z_1..z_N)] + beta * sum_n KL(q(z_n|x) || N(0, I)).

    The prior over the set is a product of independent unit Gaussians (Nash et al. 2017, Sec. 2),
    so the KL is the sum of the selected candidates' KLs. beta = 1 is the paper's objective.

    Args:
      x: images [B, H, W, C]; out: decoder output for one sample of each selected latent;
      mu, logvar: selected posteriors [B, N, D].
    Returns:
      (loss, aux) with aux keys reconstruction, kl, kl_per_object [N] (batch mean, KL order),
      kl_per_dim [D] (summed over objects), elbo.
    """
    rec = -reconstruction_log_likelihood(x, out, likelihood)
    kl_elem = dist.gaussian_kl(mu, logvar)  # [B, N, D]
    kl = kl_elem.sum(axis=(-1, -2))
    loss = jnp.mean(rec + beta * kl)
    aux = {
        "reconstruction": rec.mean(),
        "kl": kl.mean(),
        "kl_per_object": kl_elem.sum(-1).mean(0),
        "kl_per_dim": kl_elem.sum(-2).mean(0),
        "elbo": -(rec + kl).mean(),
    }
    return loss, aux


__all__ = ["candidate_kl", "select_top_n", "multi_entity_elbo"]
