"""The lower bound of Banijamali et al. (2018), "Disentangling dynamics and content for control and
planning", as plain functions of arrays.

Two observation sets of one dynamical system: X holds triples (x_t, u_t, x_{t+1}), Y holds action-free
observations y_t seen differently. Each observation has a dynamics latent (z for X, v for Y) and a
content latent (w_x, w_y). Built on RCE (Banijamali et al. 2017), the dynamics are locally linear
(Eq. 2), ẑ_{t+1} = A_t z_t + B_t u_t + c_t, with (A_t, B_t, c_t) a function of the linearisation point
z̄_t. The recognition side (Eq. 3) samples ẑ_{t+1} ~ q(·|x_{t+1}), z̄_t ~ q(·|ẑ_{t+1}, x_t) and gets z_t by
inverting Eq. 2 (the δ(z_t | ẑ_{t+1}, z̄_t, u_t) of Eq. 3). Eq. 5, per example:

    log p(x_{t+1}|x_t, u_t) + log p(y_t) ≥
        E[log p(x_{t+1} | ẑ_{t+1}, w_x)]                        (reconstruction of x_{t+1})
      − E[KL(q(z̄_t | ẑ_{t+1}, x_t) ‖ p(z̄_t | x_t))]            (linearisation point vs the encoder of x_t)
      + H(q(ẑ_{t+1} | x_{t+1}))                                 (entropy of the next-state posterior)
      + E[log p(z_t | x_t)]                                     (the inverted z_t under the encoder of x_t)
      − KL(q(w_x | x_{t+1}) ‖ p(w_x))                           (content of X)
      + E[log p(y_t | v_t, w_y)] − KL(q(v_t | y_t) ‖ p(v_t)) − KL(q(w_y | y_t) ‖ p(w_y))   (the Y terms)

with p(z_t|x_t) = p(z̄_t|x_t) = q(ẑ_t|x_t) the one encoder (Fig. 1's hard ties), p(w_x) = N(m_x, I),
p(w_y) = N(m_y, I) with different means (Sec. 3), and Eq. 6's data-dependent prior
p(v_t) = N(μ_φ(x_t), σ_φ(x_t)), the encoder's posterior of an X-view of the same state.

Choices where the paper is silent or ambiguous (see also `disentax.methods.dynamics_content`):
- The KL of w_x: Eq. 5 writes q(w_x | x_t), Eq. 3 q(w_x | x_{t+1}); we use x_{t+1}, the posterior
  whose sample decodes x_{t+1} in the reconstruction term (so the bound is an ELBO of that q).
- Eq. 5 has no log|det A_t| term although δ(z_t | ...) and δ(ẑ_{t+1} | ...) are related by the change of
  variables z_t ↦ A_t z_t + ...; we follow the paper (RCE's bound as written) and leave it out.
- Expectations are one reparameterised sample each, as in deep variational learning.
- Eq. 6's prior is behind `stop_gradient` by default (`aligned_kl(..., stop_prior_gradient=True)`):
  the dynamics latent is then learned from X alone, and Y is pulled onto it, never the reverse.

Gaussians are diagonal, parametrised by (mean, log-variance) as in `disentax.distributions`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from disentax import distributions as dist

__all__ = [
    "aligned_kl", "bernoulli_log_likelihood", "data_dependent_prior", "dynamics_content_elbo", "gaussian_entropy",
    "gaussian_kl", "gaussian_log_density", "invert_transition", "locally_linear", "rank_one_inverse",
    "rank_one_matrix",
]


# ----------------------------------------------------------------------------- Eq. 2 and its inverse


def rank_one_matrix(v, r):
    """A = I + v rᵀ, [..., D, D] from v, r [..., D]: E2C's (Watter et al. 2015) rank-one transition matrix."""
    v, r = jnp.asarray(v), jnp.asarray(r)
    eye = jnp.eye(v.shape[-1], dtype=jnp.result_type(v, r))
    return eye + v[..., :, None] * r[..., None, :]


def rank_one_inverse(v, r, eps: float = 1e-6):
    """(I + v rᵀ)⁻¹ = I − v rᵀ / (1 + rᵀv) (Sherman–Morrison), [..., D, D].

    Singular only where 1 + rᵀv = 0; a denominator nearer zero than `eps` is moved to ±eps (its sign
    kept), so the inverse stays finite under jit and grad; elsewhere the formula is exact.
    """
    v, r = jnp.asarray(v), jnp.asarray(r)
    den = 1.0 + jnp.sum(r * v, -1)
    den = jnp.where(jnp.abs(den) < eps, jnp.where(den < 0, -eps, eps), den)
    eye = jnp.eye(v.shape[-1], dtype=jnp.result_type(v, r))
    return eye - v[..., :, None] * r[..., None, :] / den[..., None, None]


def locally_linear(A, B, c, z, u):
    """Banijamali et al. (2018), Eq. 2: ẑ_{t+1} = A_t z_t + B_t u_t + c_t.

    A [..., D, D], B [..., D, U], c [..., D], z [..., D], u [..., U] -> [..., D].
    """
    return jnp.einsum("...ij,...j->...i", A, z) + jnp.einsum("...ij,...j->...i", B, u) + c


def invert_transition(A, B, c, z_next, u, *, A_inverse=None):
    """The δ(z_t | ẑ_{t+1}, z̄_t, u_t) of Banijamali et al. (2018), Eqs. 3-4: the z_t that Eq. 2 maps to
    ẑ_{t+1} under (A_t, B_t, c_t) (computed at z̄_t): z_t = A_t⁻¹ (ẑ_{t+1} − B_t u_t − c_t).

    `A_inverse` (e.g. `rank_one_inverse(v, r)`) avoids the general solve; without it, `jnp.linalg.solve`.
    """
    rhs = z_next - jnp.einsum("...ij,...j->...i", B, u) - c
    if A_inverse is not None:
        return jnp.einsum("...ij,...j->...i", A_inverse, rhs)
    return jnp.linalg.solve(A, rhs[..., None])[..., 0]


# ----------------------------------------------------------------------------- the terms of Eq. 5


def bernoulli_log_likelihood(x, logits):
    """log p(x | logits) = Σ_pixels [x log σ(l) + (1 − x) log(1 − σ(l))], one value per example:
    x, logits [B, ...] -> [B]. Eq. 5's E[log p(x_{t+1} | ẑ_{t+1}, w_x)] and E[log p(y_t | v_t, w_y)] at one sample."""
    ll = dist.bernoulli_log_prob(x, logits)
    return ll.reshape(ll.shape[0], -1).sum(-1)


def gaussian_entropy(logvar):
    """H(N(·, diag e^logvar)) = Σ_d ½ (log 2π + 1 + logvar_d): [..., D] -> [...]. Eq. 5's H(q(ẑ_{t+1} | x_{t+1}))."""
    return dist.gaussian_entropy(logvar).sum(-1)


def gaussian_log_density(z, mean, logvar):
    """log N(z; mean, diag e^logvar) summed over the last axis: [..., D] -> [...]. Eq. 5's log p(z_t | x_t)."""
    return dist.gaussian_log_prob(z, mean, logvar).sum(-1)


def gaussian_kl(q_mean, q_logvar, p_mean, p_logvar):
    """KL(N(q_mean, e^q_logvar) ‖ N(p_mean, e^p_logvar)) of diagonal Gaussians, summed over the last axis:
    [..., D] -> [...]. Eq. 5's KL terms (closed form, `disentax.distributions.gaussian_kl`)."""
    return dist.gaussian_kl(q_mean, q_logvar, p_mean, p_logvar).sum(-1)


def data_dependent_prior(x_mean, x_logvar, *, stop_gradient: bool = True):
    """Banijamali et al. (2018), Eq. 6: p(v_t) = N(μ_φ(x_t), σ_φ(x_t)), the encoder's posterior of the
    X-view of y_t's state, returned as (mean, logvar); behind `jax.lax.stop_gradient` when `stop_gradient`."""
    if stop_gradient:
        return jax.lax.stop_gradient(x_mean), jax.lax.stop_gradient(x_logvar)
    return x_mean, x_logvar


def aligned_kl(v_mean, v_logvar, x_mean, x_logvar, *, stop_prior_gradient: bool = True):
    """KL(q(v_t | y_t) ‖ p(v_t)) with Eq. 6's prior (Banijamali et al. (2018)): [..., D] -> [...]."""
    p_mean, p_logvar = data_dependent_prior(x_mean, x_logvar, stop_gradient=stop_prior_gradient)
    return gaussian_kl(v_mean, v_logvar, p_mean, p_logvar)


# ----------------------------------------------------------------------------- Eq. 5


def _pair(name, g):
    if not (isinstance(g, (tuple, list)) and len(g) == 2):
        raise ValueError(f"{name} must be a (mean, logvar) pair of arrays, got {type(g).__name__}")
    return jnp.asarray(g[0]), jnp.asarray(g[1])


def dynamics_content_elbo(*, log_px_next, z_next, z_bar, encoder_t, z_t, w_x, w_x_prior_mean, log_py, v,
                          v_prior, w_y, w_y_prior_mean, stop_prior_gradient: bool = True):
    """Negative Eq. 5 of Banijamali et al. (2018), averaged over a batch of B examples (each one X
    triple and one Y observation), in nats.

    Args (each Gaussian a (mean, logvar) pair of [B, D] arrays):
      log_px_next: [B], log p(x_{t+1} | ẑ_{t+1}, w_x) at the sampled ẑ_{t+1}, w_x.
      z_next: q(ẑ_{t+1} | x_{t+1}) (its entropy).
      z_bar: q(z̄_t | ẑ_{t+1}, x_t), the backward network's posterior of the linearisation point.
      encoder_t: the encoder of x_t, both p(z̄_t | x_t) and p(z_t | x_t) (Fig. 1's hard ties).
      z_t: [B, D], the sample of z_t from δ(z_t | ẑ_{t+1}, z̄_t, u_t) (`invert_transition`).
      w_x: q(w_x | x_{t+1}); w_x_prior_mean: m_x of p(w_x) = N(m_x, I) (scalar or [D_w]).
      log_py: [B], log p(y_t | v_t, w_y) at the sampled v_t, w_y.
      v: q(v_t | y_t); v_prior: the encoder's posterior of the X-view of y_t's state (Eq. 6).
      w_y: q(w_y | y_t); w_y_prior_mean: m_y of p(w_y) = N(m_y, I).
      stop_prior_gradient: Eq. 6's prior behind stop_gradient (see `data_dependent_prior`).
    Returns:
      (loss, aux): loss = −mean_b Eq. 5; aux holds the batch mean of every term: `reconstruction_x`
      (−log p(x_{t+1}|·)), `kl_z_bar`, `entropy_z_next` (H), `log_p_z_t`, `kl_w_x`, `reconstruction_y`
      (−log p(y_t|·)), `kl_v`, `kl_w_y`, so that elbo = −reconstruction_x − kl_z_bar + entropy_z_next +
      log_p_z_t − kl_w_x − reconstruction_y − kl_v − kl_w_y; and `elbo`, `elbo_x`, `elbo_y` (the X and Y
      halves of the bound).
    """
    zn_m, zn_lv = _pair("z_next", z_next)
    zb_m, zb_lv = _pair("z_bar", z_bar)
    et_m, et_lv = _pair("encoder_t", encoder_t)
    wx_m, wx_lv = _pair("w_x", w_x)
    v_m, v_lv = _pair("v", v)
    vp_m, vp_lv = _pair("v_prior", v_prior)
    wy_m, wy_lv = _pair("w_y", w_y)
    log_px_next, log_py = jnp.asarray(log_px_next), jnp.asarray(log_py)
    b = log_px_next.shape[0]
    if log_px_next.shape != (b,) or log_py.shape != (b,):
        raise ValueError(f"log_px_next and log_py must be [B] (one log-likelihood per example), got "
                         f"{log_px_next.shape} and {log_py.shape}")
    z_t = jnp.asarray(z_t)
    if z_t.shape != zn_m.shape:
        raise ValueError(f"z_t must have the shape of z_next's mean {zn_m.shape}, got {z_t.shape}")

    kl_zbar = gaussian_kl(zb_m, zb_lv, et_m, et_lv)
    entropy = gaussian_entropy(zn_lv)
    log_pz = gaussian_log_density(z_t, et_m, et_lv)
    kl_wx = gaussian_kl(wx_m, wx_lv, w_x_prior_mean, 0.0)
    kl_v = aligned_kl(v_m, v_lv, vp_m, vp_lv, stop_prior_gradient=stop_prior_gradient)
    kl_wy = gaussian_kl(wy_m, wy_lv, w_y_prior_mean, 0.0)
    elbo_x = log_px_next - kl_zbar + entropy + log_pz - kl_wx
    elbo_y = log_py - kl_v - kl_wy
    elbo = elbo_x + elbo_y
    loss = -jnp.mean(elbo)
    aux = {
        "elbo": -loss, "elbo_x": elbo_x.mean(), "elbo_y": elbo_y.mean(),
        "reconstruction_x": -log_px_next.mean(), "kl_z_bar": kl_zbar.mean(), "entropy_z_next": entropy.mean(),
        "log_p_z_t": log_pz.mean(), "kl_w_x": kl_wx.mean(),
        "reconstruction_y": -log_py.mean(), "kl_v": kl_v.mean(), "kl_w_y": kl_wy.mean(),
    }
    return loss, aux
