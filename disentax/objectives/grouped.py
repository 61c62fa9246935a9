"""The Multi-Level VAE objective for grouped observations (Bouchacourt et al. 2018).

Latents split into a style s_i per observation and a content c_G per group G. The content
posterior is the normalised product of the members' Gaussians (Eq. 6–7):

    Σ_G⁻¹ = Σ_{i∈G} Σ_i⁻¹,        μ_G = Σ_G · Σ_{i∈G} Σ_i⁻¹ μ_i,

and the group ELBO (Eq. 3) has one content KL per group:

    L(X_G) = Σ_{i∈G} E_q[log p(x_i | c_G, s_i)] − Σ_{i∈G} KL(q(s_i|x_i) ‖ p(s)) − KL(q(c_G|X_G) ‖ p(c)),

averaged over the groups of the mini-batch (Eq. 4–5). Groups are given by `segment_ids`, so
ragged groups batch together; every per-group sum is a segment sum over `num_groups` segments.
Empty segments (allowed, e.g. padding) get the prior and are left out of the average.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.objectives.elbo import reconstruction_log_likelihood

__all__ = ["product_of_gaussians", "group_elbo", "ml_vae", "broadcast_to_members"]


def product_of_gaussians(mu, logvar, segment_ids, num_groups: int):
    """Normalised product of diagonal Gaussians within each segment (Bouchacourt et al. 2018,
    Eq. 7).

    Precisions add and the mean is precision-weighted. Computed in log space: the group
    log-variance is −logsumexp_i(−logvar_i) and each member's weight Σ_i⁻¹/Σ_G⁻¹ lies in [0, 1],
    so very confident members (logvar → −∞) or very vague ones neither overflow nor underflow.

    Args:
      mu, logvar: [B, D] per-observation content posteriors q(c | x_i).
      segment_ids: [B] int group of each observation, in [0, num_groups).
      num_groups: G (static).
    Returns:
      (mu_G, logvar_G) [G, D]; empty groups get (0, 0), the standard-normal prior.
    """
    num_groups = int(num_groups)
    neg = -logvar  # log precisions
    top = jax.ops.segment_max(neg, segment_ids, num_segments=num_groups)  # [G, D], −inf if empty
    count = jax.ops.segment_sum(jnp.ones(segment_ids.shape, neg.dtype), segment_ids, num_segments=num_groups)
    present = (count > 0)[:, None]
    top = jnp.where(present, jax.lax.stop_gradient(top), 0.0)
    scaled = jnp.exp(neg - top[segment_ids])  # ≤ 1
    total = jax.ops.segment_sum(scaled, segment_ids, num_segments=num_groups)
    safe_total = jnp.where(present, total, 1.0)
    log_precision = top + jnp.log(safe_total)
    weights = scaled / safe_total[segment_ids]  # Σ_i⁻¹ / Σ_G⁻¹
    mu_g = jax.ops.segment_sum(weights * mu, segment_ids, num_segments=num_groups)
    mu_g = jnp.where(present, mu_g, 0.0)
    logvar_g = jnp.where(present, -log_precision, 0.0)
    return mu_g, logvar_g


def broadcast_to_members(group_values, segment_ids):
    """Per-group rows [G, ...] -> per-observation rows [B, ...] (each member gets its group's)."""
    return group_values[segment_ids]


def group_elbo(log_px, kl_style, kl_content, segment_ids, num_groups: int):
    """Group ELBOs [G] from per-observation terms (Bouchacourt et al. 2018, Eq. 3).

    Args:
      log_px: [B] log p(x_i | c_{G,i}, s_i) for one sample of each.
      kl_style: [B] KL(q(s_i|x_i) ‖ p(s)) summed over style dimensions.
      kl_content: [G] KL(q(c_G|X_G) ‖ p(c)) summed over content dimensions, once per group.
    Returns:
      (elbo_G [G], count_G [G]).
    """
    num_groups = int(num_groups)
    per_obs = jax.ops.segment_sum(log_px - kl_style, segment_ids, num_segments=num_groups)
    count = jax.ops.segment_sum(jnp.ones_like(log_px), segment_ids, num_segments=num_groups)
    return per_obs - kl_content, count


def ml_vae(x, out, mu_s, logvar_s, mu_c, logvar_c, segment_ids, num_groups: int, *, likelihood: str = "bernoulli",
           mu_g=None, logvar_g=None):
    """Negative average group ELBO (Bouchacourt et al. 2018, Eq. 5) for one reparameterised sample
    per observation.

    `out` is the decoder output for (c_{G,i}, s_i) with c_{G,i} ~ q(c_G|X_G) (Algorithm 1, step 3)
    and s_i ~ q(s_i|x_i). `mu_c, logvar_c` are the per-observation content posteriors; pass the
    group posterior `mu_g, logvar_g` if already computed (else it is formed here by
    `product_of_gaussians`). The average runs over non-empty groups.

    Returns (loss, aux) with aux `reconstruction` (−log p(x|·) per observation), `kl_style` (per
    observation), `kl_content` (per group), `kl` (all KL per group), `elbo` (per group) and `group_size` (mean).
    """
    if mu_g is None or logvar_g is None:
        mu_g, logvar_g = product_of_gaussians(mu_c, logvar_c, segment_ids, num_groups)
    log_px = reconstruction_log_likelihood(x, out, likelihood)
    kl_s = dist.gaussian_kl(mu_s, logvar_s).sum(-1)
    kl_c = dist.gaussian_kl(mu_g, logvar_g).sum(-1)
    elbo_g, count = group_elbo(log_px, kl_s, kl_c, segment_ids, num_groups)
    present = (count > 0).astype(elbo_g.dtype)
    n_groups = jnp.maximum(present.sum(), 1.0)
    mean_elbo = jnp.sum(elbo_g * present) / n_groups
    aux = {
        "reconstruction": -log_px.mean(),
        "kl_style": kl_s.mean(),
        "kl_content": jnp.sum(kl_c * present) / n_groups,
        "kl": (jnp.sum(kl_s) + jnp.sum(kl_c * present)) / n_groups,  # total KL per group
        "kl_content_per_dim": jnp.sum(dist.gaussian_kl(mu_g, logvar_g) * present[:, None], 0) / n_groups,
        "kl_style_per_dim": dist.gaussian_kl(mu_s, logvar_s).mean(0),
        "elbo": mean_elbo,
        "group_size": jnp.sum(count) / n_groups,
    }
    return -mean_elbo, aux
