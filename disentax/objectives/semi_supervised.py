"""Semi-supervised structured VAE objective (Siddharth et al. 2017, Sec. 3, Eq. 2–4).

Generative model p(x | y, z) p(y) p(z) with a discrete y (K classes, uniform prior unless
given) and a Gaussian style z; recognition model q(y | x) q(z | x, y).

- Unsupervised data (Eq. 2): y is drawn from q(y|x) and scored in it,

      L(x) = E_{q(y|x) q(z|x,y)}[log p(x|y,z) + log p(y) + log p(z) − log q(y|x) − log q(z|x,y)].

  Discrete y is made differentiable either by the *plug-in* estimator of Sec. 3 (feed
  ρ = E_q[y] = softmax(logits) to the networks downstream; then E_q[log p(y) − log q(y|x)] is
  −KL(q(y|x) ‖ p(y)) in closed form) or by a Concrete relaxation (Maddison et al. 2017; Jang et
  al. 2017): ỹ ~ Concrete(logits, τ), scored as log p_τ(ỹ) − log q_τ(ỹ|x) with the prior a
  Concrete of the prior logits at the same temperature.

- Supervised data (Eq. 4), with the label y_i observed and L_{x|y} the conditional ELBO (Eq. 3),

      L(x_i, y_i) = q(y_i|x_i) · [L_{x|y}(x_i, y_i) + log p(y_i) − log q(y_i|x_i)].

  Its gradients are the appendix's: for the decoder θ and the style encoder φ_z,
  q(y_i|x_i)·∇L_{x|y}; for the classifier φ_y, q(y_i|x_i)·[L_{x|y} + log p(y_i) − log q(y_i|x_i) − 1]·∇log q(y_i|x_i).
  Automatic differentiation of the product gives exactly these (the weight is not stopped:
  the φ_y gradient *is* the gradient of the weight), which `tests/test_semi_supervised.py` checks
  against the hand-derived forms.

  Note: for a likelihood with L_{x|y} < 0 (Bernoulli images), f(q) = q·(A − log q) with
  A = L_{x|y} + log p(y_i) is maximised at q = exp(A − 1), so Eq. 4 alone pushes q(y_i|x_i)
  *down* for the true label. The `alpha` term, α·log q(y_i|x_i) on supervised data (the explicit
  classifier term of Kingma et al. 2014, kept in the later NIPS 2017 version of Siddharth et al.),
  is what makes the classifier learn; α = 0 gives Siddharth et al.'s Eq. 4 unchanged.

Continuous partially-supervised latents (regression; Siddharth et al. 2017, Sec. 3: the formulation
"learns a regressor instead of a classifier"). Optional latents c ∈ R^R with prior p(c) = N(0, I)
on standardised targets (mean 0, variance 1 over the dataset; see
`disentax.data.labelled.standardised_levels`) and a Gaussian head q(c|x) = N(m(x), diag e^{s(x)}),
fed downstream with y: q(z | x, y, c) and p(x | y, c, z).

- Unsupervised data: c ~ q(c|x) reparameterised (c = m + e^{s/2} ε) is fed downstream and
  scored through its closed-form KL(q(c|x) ‖ N(0, I)), as z is (and as the plug-in scores y):

      L(x) = L_{x|y,c} − KL(q(y|x) ‖ p(y)) − KL(q(c|x) ‖ p(c)).

- Supervised data: the given c_i is fed downstream and scored in q through
  α·log q(c_i|x_i); the objective is

      L(x_i, y_i, c_i) = q(y_i|x_i) · [L_{x|y,c}(x_i, y_i, c_i) + log p(c_i) + log p(y_i) − log q(y_i|x_i)]
                         + α·log q(y_i|x_i) + α·log q(c_i|x_i).

  Why not Eq. 4 verbatim with y = (y_i, c_i)? Its weight would be q(y_i|x_i)·q(c_i|x_i), and
  q(c_i|x_i) is a density, not a probability: (i) it carries units — rescaling the target by a
  rescales every supervised gradient by 1/a, so the supervised/unsupervised balance would depend
  on how c is measured; (ii) it is unbounded, → ∞ as e^s → 0 at a correct prediction; (iii) as for
  the discrete weight (note above), f(q) = q·(A − log q) peaks at q(c_i|x_i) = e^{A−1} with A of the
  order of −L_{x|y} (tens of nats), i.e. it rewards putting *no* density on the true value — but
  now with no upper bound on the scale of its gradients. So Eq. 4's weight is kept for the
  discrete y only (a probability in [0, 1]), and c enters the bracket the way an observed
  variable enters a bound: with y_i, c_i fixed, log p(x_i, y_i, c_i) ≥ the bracket above, whose
  c-part L_{x|y,c} + log p(c_i) is Eq. 3 with c observed. The regressor is then trained by the
  appendix's φ_y gradient form, a scalar times ∇log q(c_i|x_i), with the scalar q·[L − 1] (a
  density, negative) replaced by the constant α ≥ 0 — the same explicit term as the classifier's,
  i.e. a heteroscedastic Gaussian regression loss; α = 0 leaves the regressor to the unsupervised
  term alone. With no regressed latents every formula above reduces to the previous ones, and
  the code takes exactly the previous path.

All losses are minimised: loss = −(batch mean of the objective).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from disentax import distributions as dist
from disentax.objectives.elbo import reconstruction_log_likelihood

__all__ = [
    "ESTIMATORS",
    "conditional_elbo",
    "supervised_objective",
    "unsupervised_objective",
    "semi_supervised_vae",
]

ESTIMATORS = ("plugin", "concrete")


def _log_prior(prior_logits, num_classes: int, dtype=jnp.float32):
    if prior_logits is None:
        return jnp.full((num_classes,), -math.log(num_classes), dtype)
    return jax.nn.log_softmax(jnp.asarray(prior_logits, dtype), axis=-1)


def conditional_elbo(x, out, mu, logvar, *, likelihood: str = "bernoulli"):
    """L_{x|y} per example [B] (Siddharth et al. 2017, Eq. 3): log p(x|y,z)
    − KL(q(z|x,y) ‖ N(0, I)), one z sample.

    Returns (L [B], log_px [B], kl_z [B]).
    """
    log_px = reconstruction_log_likelihood(x, out, likelihood)
    kl_z = dist.gaussian_kl(mu, logvar).sum(-1)
    return log_px - kl_z, log_px, kl_z


def _regression_terms(c_mu, c_logvar, c_target):
    """(log p(c_i) under N(0, I), log q(c_i|x_i)), each summed over the R regressed latents [B]."""
    log_pc = dist.gaussian_log_prob(c_target, jnp.zeros_like(c_target), jnp.zeros_like(c_target)).sum(-1)
    log_qc = dist.gaussian_log_prob(c_target, c_mu, c_logvar).sum(-1)
    return log_pc, log_qc


def supervised_objective(x, out, mu, logvar, y_logits, labels, *, likelihood: str = "bernoulli",
                         alpha: float = 0.0, prior_logits=None, c_mu=None, c_logvar=None, c_target=None):
    """Negative Eq. 4 on a labelled batch, plus −α·log q(y_i|x_i).

    Args:
      x: images [B, H, W, C]; out: decoder output for (y_i one-hot, z ~ q(z|x, y_i)).
      mu, logvar: q(z | x, y_i) [B, D]; y_logits: q(y | x) logits [B, K]; labels: int [B].
      alpha: weight of the explicit classifier term (0 = Siddharth et al.'s objective).
      prior_logits: logits of p(y) [K]; uniform when None.
      c_mu, c_logvar: q(c | x) of the regressed latents [B, R]; c_target: the given standardised
        values [B, R], which the caller fed downstream (`out`, `mu`, `logvar`). All three or none.
    Returns:
      (loss, aux) with aux `elbo` (mean of L_{x|y} + log p(y_i)), `weight` (mean q(y_i|x_i)),
      `log_qy` (mean log q(y_i|x_i)), `reconstruction`, `kl` (KL of z), `accuracy`; with
      regressed latents also `log_qc` (mean log q(c_i|x_i)) and `regression_rmse` (of the mean m).
    """
    num_classes = y_logits.shape[-1]
    log_q_all = jax.nn.log_softmax(y_logits, axis=-1)
    log_qy = jnp.take_along_axis(log_q_all, labels[:, None], axis=-1)[:, 0]
    log_py = _log_prior(prior_logits, num_classes, log_q_all.dtype)[labels]
    l_xy, log_px, kl_z = conditional_elbo(x, out, mu, logvar, likelihood=likelihood)
    regressed = c_mu is not None
    if regressed:
        log_pc, log_qc = _regression_terms(c_mu, c_logvar, c_target)
        l_xy = l_xy + log_pc  # Eq. 3 with c observed: a bound on log p(x, c_i | y_i)
    weight = jnp.exp(log_qy)
    per_example = weight * (l_xy + log_py - log_qy)
    loss = -jnp.mean(per_example) - alpha * jnp.mean(log_qy)
    if regressed:
        loss = loss - alpha * jnp.mean(log_qc)
    aux = {
        "objective": jnp.mean(per_example),
        "elbo": jnp.mean(l_xy + log_py),
        "weight": jnp.mean(weight),
        "log_qy": jnp.mean(log_qy),
        "reconstruction": -jnp.mean(log_px),
        "kl": jnp.mean(kl_z),
        "kl_y": jnp.zeros((), log_q_all.dtype),
        "accuracy": jnp.mean((jnp.argmax(y_logits, -1) == labels).astype(log_q_all.dtype)),
    }
    if regressed:
        aux["log_qc"] = jnp.mean(log_qc)
        aux["regression_rmse"] = jnp.sqrt(jnp.mean(jnp.square(c_mu - c_target)))
        aux["kl_c"] = jnp.zeros((), log_q_all.dtype)
    return loss, aux


def unsupervised_objective(x, out, mu, logvar, y_logits, *, estimator: str = "plugin", log_y=None,
                           temperature: float = 0.67, likelihood: str = "bernoulli", prior_logits=None,
                           c_mu=None, c_logvar=None):
    """Negative Eq. 2 on an unlabelled batch, y drawn from q(y|x) and scored in it.

    Args:
      out, mu, logvar: decoder output and q(z|x,y) for the y that was fed downstream — ρ =
        softmax(y_logits) for ``plugin``, the Concrete sample exp(log_y) for ``concrete``.
      log_y: [B, K] log of the Concrete sample (``concrete`` only; from
        `distributions.concrete_sample_log`, so it stays finite when peaked).
      c_mu, c_logvar: q(c | x) of the regressed latents [B, R] (both or none); the caller fed a
        reparameterised sample of it downstream.
    Returns:
      (loss, aux) with aux `elbo`, `reconstruction`, `kl` (KL of z), `kl_y` (the y term, an
      estimate of KL(q(y|x) ‖ p(y)) for ``concrete``), `entropy_y`; `kl_c` with regressed latents.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; allowed: {', '.join(ESTIMATORS)}")
    num_classes = y_logits.shape[-1]
    prior = _log_prior(prior_logits, num_classes, y_logits.dtype)
    l_xy, log_px, kl_z = conditional_elbo(x, out, mu, logvar, likelihood=likelihood)
    if estimator == "plugin":
        kl_y = dist.categorical_kl(y_logits, jnp.broadcast_to(prior, y_logits.shape))
    else:
        if log_y is None:
            raise ValueError("estimator 'concrete' needs log_y, the log of the Concrete sample fed downstream")
        log_q = dist.concrete_log_prob_from_log(log_y, y_logits, temperature)
        log_p = dist.concrete_log_prob_from_log(log_y, jnp.broadcast_to(prior, y_logits.shape), temperature)
        kl_y = log_q - log_p
    per_example = l_xy - kl_y
    if c_mu is not None:
        kl_c = dist.gaussian_kl(c_mu, c_logvar).sum(-1)
        per_example = per_example - kl_c
    loss = -jnp.mean(per_example)
    aux = {
        "objective": jnp.mean(per_example),
        "elbo": jnp.mean(per_example),
        "reconstruction": -jnp.mean(log_px),
        "kl": jnp.mean(kl_z),
        "kl_y": jnp.mean(kl_y),
        "entropy_y": jnp.mean(dist.categorical_entropy(y_logits)),
    }
    if c_mu is not None:
        aux["kl_c"] = jnp.mean(kl_c)
    return loss, aux


def semi_supervised_vae(x, out, mu, logvar, y_logits, labels, supervised, *, estimator: str = "plugin", log_y=None,
                    temperature: float = 0.67, alpha: float = 0.0, likelihood: str = "bernoulli", prior_logits=None,
                    c_mu=None, c_logvar=None, c_target=None):
    """Eq. 4 if the (scalar, traced) `supervised` flag is set, else Eq. 2: one jit-able objective.

    The batch is wholly supervised or wholly unsupervised (Siddharth et al. 2017, "Supervision
    rate"); both losses are formed from the same forward pass (the caller fed one-hot labels or the
    sampled / plugged-in y downstream accordingly) and the flag selects one, so the step compiles
    once. Unlabelled batches may carry labels = −1; they are never read there (nor `c_target`).
    Regressed latents: pass `c_mu`, `c_logvar` (q(c|x)) and `c_target` (the given values on
    labelled batches; anything finite otherwise), see the module docstring.
    """
    if (c_mu is None) != (c_logvar is None) or (c_mu is None) != (c_target is None):
        raise ValueError("regressed latents need all of c_mu, c_logvar and c_target (or none of them)")
    regression = {} if c_mu is None else {"c_mu": c_mu, "c_logvar": c_logvar}
    safe_labels = jnp.clip(labels, 0, y_logits.shape[-1] - 1)
    sup_loss, sup_aux = supervised_objective(x, out, mu, logvar, y_logits, safe_labels, likelihood=likelihood,
                                             alpha=alpha, prior_logits=prior_logits,
                                             **({} if c_mu is None else {**regression, "c_target": c_target}))
    uns_loss, uns_aux = unsupervised_objective(x, out, mu, logvar, y_logits, estimator=estimator, log_y=log_y,
                                               temperature=temperature, likelihood=likelihood,
                                               prior_logits=prior_logits, **regression)
    flag = jnp.asarray(supervised, bool)
    loss = jnp.where(flag, sup_loss, uns_loss)
    aux = {
        "supervised": flag.astype(loss.dtype),
        "objective": jnp.where(flag, sup_aux["objective"], uns_aux["objective"]),
        "reconstruction": jnp.where(flag, sup_aux["reconstruction"], uns_aux["reconstruction"]),
        "kl": jnp.where(flag, sup_aux["kl"], uns_aux["kl"]),
        "kl_y": jnp.where(flag, 0.0, uns_aux["kl_y"]),
        "elbo": jnp.where(flag, sup_aux["elbo"], uns_aux["elbo"]),
        "entropy_y": uns_aux["entropy_y"],
        # Labelled-batch diagnostics; 0 on unlabelled batches (read them with `supervised`).
        "weight": jnp.where(flag, sup_aux["weight"], 0.0),
        "accuracy": jnp.where(flag, sup_aux["accuracy"], 0.0),
    }
    if c_mu is not None:
        aux["kl_c"] = jnp.where(flag, 0.0, uns_aux["kl_c"])
        aux["log_qc"] = jnp.where(flag, sup_aux["log_qc"], 0.0)
        aux["regression_rmse"] = jnp.where(flag, sup_aux["regression_rmse"], 0.0)
    return loss, aux
