"""The auxiliary generative modelling task (Anonymous 2019, "Explicit information placement on
latent variables using auxiliary generative modelling task", ICLR 2019 submission, Sec. 2-3).

A transformed copy x~ = g(x) of each image destroys the information one wants to keep out of a
subset of latents. Here g shuffles n x n patches (Sec. 2.2): local correlations inside a patch
survive, correlations between distant pixels do not. x is modelled from (z_g, z_l) and x~ from
z_l alone, so z_l is pushed to carry local information and z_g the global rest.

Pure functions: arrays in, (loss, aux) out.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.objectives.elbo import reconstruction_log_likelihood


def _check_patch(shape, patch: int):
    if len(shape) < 3:
        raise ValueError(f"images must have shape [..., H, W, C], got {tuple(shape)}")
    h, w = shape[-3], shape[-2]
    if not isinstance(patch, int) or patch < 1 or h % patch or w % patch:
        raise ValueError(f"patch must be a positive int dividing the image size {h}x{w}, got {patch!r}")


def image_to_patches(x, patch: int):
    """[..., H, W, C] -> [..., m, patch, patch, C] in row-major patch order, m = (H/patch)(W/patch)."""
    _check_patch(x.shape, patch)
    *lead, h, w, c = x.shape
    nh, nw = h // patch, w // patch
    p = x.reshape(*lead, nh, patch, nw, patch, c)
    p = jnp.moveaxis(p, -4, -3)  # [..., nh, nw, patch, patch, c]
    return p.reshape(*lead, nh * nw, patch, patch, c)


def patches_to_image(p, height: int, width: int):
    """Inverse of `image_to_patches`: [..., m, patch, patch, C] -> [..., H, W, C]."""
    *lead, m, patch, _, c = p.shape
    nh, nw = height // patch, width // patch
    if nh * nw != m:
        raise ValueError(f"{m} patches of {patch}x{patch} do not tile a {height}x{width} image")
    q = p.reshape(*lead, nh, nw, patch, patch, c)
    q = jnp.moveaxis(q, -3, -4)  # [..., nh, patch, nw, patch, c]
    return q.reshape(*lead, height, width, c)


def shuffle_patches(key, x, patch: int):
    """g(x) of Anonymous (2019), Sec. 2.2: cut each image into m patches of patch x patch pixels,
    permute the patches at random and reassemble.

    Args:
      key: PRNG key; images of a batch get independent permutations (from `split(key, B)`).
      x: one image [H, W, C] or a batch [B, H, W, C]; H and W divisible by `patch`.
      patch: side length n of the square patches (static).
    Returns:
      An array of the shape of x. Deterministic per key; the identity when there is one patch.
    """
    _check_patch(x.shape, patch)
    h, w = x.shape[-3], x.shape[-2]

    def one(k, img):
        p = image_to_patches(img, patch)
        perm = jax.random.permutation(k, p.shape[0])
        return patches_to_image(p[perm], h, w)

    if x.ndim == 3:
        return one(key, x)
    if x.ndim != 4:
        raise ValueError(f"shuffle_patches takes [H, W, C] or [B, H, W, C] images, got shape {x.shape}")
    return jax.vmap(one)(jax.random.split(key, x.shape[0]), x)


def auxiliary_vae(x, x_shuffled, out, out_aux, mu_g, logvar_g, mu_l, logvar_l, *, beta: float = 1.0,
                  likelihood: str = "logistic"):
    """Anonymous (2019), Eq. 6, as a loss to minimise (the negative of the paper's free energy):

        -log p(x | z_g, z_l) - log p(x~ | z_l) + beta * KL(q(z_g|x) q(z_l|x~) || N(0, I)),

    one reparameterised sample per image, batch mean. q factorises over the two encoders, so the
    KL is KL_g + KL_l.

    Args:
      x, x_shuffled: images and their patch-shuffled copies [B, H, W, C] in [0, 1].
      out: decoder output for p(x | z_g, z_l); out_aux: for p(x~ | z_l).
      mu_g, logvar_g: q(z_g | x) [B, Dg]; mu_l, logvar_l: q(z_l | x~) [B, Dl].
    Returns:
      (loss, aux): reconstruction (-log p(x|.)), aux_reconstruction (-log p(x~|z_l)), kl_global,
      kl_local, kl, kl_per_dim (global dims then local dims), elbo (of the pair (x, x~)).
    """
    rec = -reconstruction_log_likelihood(x, out, likelihood)
    rec_aux = -reconstruction_log_likelihood(x_shuffled, out_aux, likelihood)
    kl_g_elem, kl_l_elem = dist.gaussian_kl(mu_g, logvar_g), dist.gaussian_kl(mu_l, logvar_l)
    kl_g, kl_l = kl_g_elem.sum(-1), kl_l_elem.sum(-1)
    loss = jnp.mean(rec + rec_aux + beta * (kl_g + kl_l))
    aux = {
        "reconstruction": rec.mean(),
        "aux_reconstruction": rec_aux.mean(),
        "kl_global": kl_g.mean(),
        "kl_local": kl_l.mean(),
        "kl": (kl_g + kl_l).mean(),
        "kl_per_dim": jnp.concatenate([kl_g_elem.mean(0), kl_l_elem.mean(0)]),
        "elbo": -(rec + rec_aux + kl_g + kl_l).mean(),
    }
    return loss, aux


def auxiliary_vae_clustering(x, x_shuffled, out, out_aux, mu_g, logvar_g, mu_l, logvar_l, y_logits,
                             prior_mu_g, prior_logvar_g, *, beta: float = 1.0, likelihood: str = "logistic"):
    """Anonymous (2019), Eq. 7-11, as a loss to minimise: with y ~ Concrete(q(y|x)) and
    p_gamma(z_g | y),

        -log p(x | z_g, z_l) - log p(x~ | z_l)
          + beta * [KL(q(z_g|x) || p_gamma(z_g|y)) + KL(q(z_l|x~) || N(0, I))]
          + KL(q(y|x) || Uniform(k)).

    `prior_mu_g`, `prior_logvar_g` [B, Dg] are p_gamma(z_g | y) at the sampled (relaxed) y. The
    paper does not say how the KL of the relaxed y is computed; the categorical KL of the class
    probabilities softmax(y_logits) to the uniform prior is used (analytic, as in Jang et al. 2017).

    Returns (loss, aux): the keys of `auxiliary_vae` plus kl_y and cluster_entropy (of the batch-mean
    class probabilities, log k when clusters are used evenly).
    """
    rec = -reconstruction_log_likelihood(x, out, likelihood)
    rec_aux = -reconstruction_log_likelihood(x_shuffled, out_aux, likelihood)
    kl_g_elem = dist.gaussian_kl(mu_g, logvar_g, prior_mu_g, prior_logvar_g)
    kl_l_elem = dist.gaussian_kl(mu_l, logvar_l)
    kl_g, kl_l = kl_g_elem.sum(-1), kl_l_elem.sum(-1)
    kl_y = dist.categorical_kl(y_logits, jnp.zeros_like(y_logits))
    loss = jnp.mean(rec + rec_aux + beta * (kl_g + kl_l) + kl_y)
    mean_probs = jnp.mean(jax.nn.softmax(y_logits, axis=-1), axis=0)
    aux = {
        "reconstruction": rec.mean(),
        "aux_reconstruction": rec_aux.mean(),
        "kl_global": kl_g.mean(),
        "kl_local": kl_l.mean(),
        "kl_y": kl_y.mean(),
        "kl": (kl_g + kl_l + kl_y).mean(),
        "kl_per_dim": jnp.concatenate([kl_g_elem.mean(0), kl_l_elem.mean(0)]),
        "elbo": -(rec + rec_aux + kl_g + kl_l + kl_y).mean(),
        "cluster_entropy": -jnp.sum(mean_probs * jnp.log(jnp.maximum(mean_probs, 1e-12))),
    }
    return loss, aux


__all__ = ["auxiliary_vae", "auxiliary_vae_clustering", "image_to_patches", "patches_to_image", "shuffle_patches"]
