"""Cross-domain objectives: JADE (Karimi, Banijamali, Wong & Ghodsi (2018), "JADE: Joint
Autoencoders for Dis-Entanglement") and the two classifiers it is compared with.

Two VAEs, one per domain: a scarce labelled primary domain x with latents z1 (style) and z2
(content), an abundant labelled secondary domain y with z3 (style) and z4 (content), and one
classifier p(ℓ | content) shared by both. Karimi et al. (2018), Eq. 1, per domain:

    L(x, ℓ) = E_q(z1|x)[log p(x | z1, z2)] + E_q(z2|x)[log p(ℓ | z2)]
              − KL(q(z1|x) ‖ p(z1)) − KL(q(z2|x) ‖ p(z2)),

and likewise L(y, ℓ) with (z3, z4) (the paper's second line writes x for y: a copy error). Eq. 2
adds, for pairs (x, y) of the same class, the cross-domain KL between the content posteriors:

    max L(x, ℓ) + L(y, ℓ) − KL(q(z2|x) ‖ q(z4|y)).

The paper conditions the content posteriors on ℓ, q(z2|x, ℓ); its encoders see only images and ℓ
is unknown at test time, so here q(z2|x) is the image encoder's and ℓ enters through the classifier
term and the pairing (see `disentax.methods.jade`). The paper weights every term 1; the weights
here default to 1.

Everything is a pure function of arrays, safe under `jit`, `vmap` and `grad`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from disentax import distributions as dist
from disentax.objectives.elbo import reconstruction_log_likelihood

__all__ = ["classifier_loss", "cross_domain_kl", "jade_loss"]


def cross_domain_kl(mu_x, logvar_x, mu_y, logvar_y) -> jax.Array:
    """KL(N(mu_x, e^logvar_x) ‖ N(mu_y, e^logvar_y)) of diagonal Gaussians, summed over the last
    axis: [..., D] -> [...]. Karimi et al. (2018), Eq. 2's KL(q(z2|x, ℓ) ‖ q(z4|y, ℓ)) of one pair.

    Closed form per dimension: ½ (logvar_y − logvar_x + (e^logvar_x + (mu_x − mu_y)²) / e^logvar_y − 1),
    evaluated by `distributions.gaussian_kl` without cancellation (exactly 0 for equal posteriors).
    """
    return jnp.sum(dist.gaussian_kl(mu_x, logvar_x, mu_y, logvar_y), axis=-1)


def _class_nll(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(labels, jnp.int32))


def _accuracy(logits, labels):
    return jnp.mean((jnp.argmax(logits, -1) == jnp.asarray(labels, jnp.int32)).astype(jnp.float32))


def classifier_loss(logits_x, labels, logits_y=None):
    """The baselines of Karimi et al. (2018), Sec. 3: mean softmax cross-entropy −log p(ℓ|x) of the
    primary batch ("single classifier"), plus that of the secondary batch when `logits_y` is given
    ("paired classifier": the sum of both domains' cross-entropies on the shared classifier).

    logits_* [B, K], labels [B] (the pairs share their class). Returns (loss, aux).
    """
    nll_x = jnp.mean(_class_nll(logits_x, labels))
    aux = {"class_nll_x": nll_x, "accuracy_x": _accuracy(logits_x, labels)}
    loss = nll_x
    if logits_y is not None:
        nll_y = jnp.mean(_class_nll(logits_y, labels))
        aux.update(class_nll_y=nll_y, accuracy_y=_accuracy(logits_y, labels))
        loss = loss + nll_y
    return loss, aux


def jade_loss(x, x_out, y, y_out, mu_x, logvar_x, mu_y, logvar_y, logits_x, logits_y, labels, *,
              content_dim: int, likelihood: str = "bernoulli", reconstruction_scale=1.0,
              classifier_weight=1.0, prior_weight=1.0, cross_weight=1.0):
    """−(Eq. 2) of Karimi et al. (2018), averaged over B class-matched pairs (x_i, y_i, ℓ_i).

    Args:
      x, y: images of the primary and secondary domain [B, H, W, C] (each its own shape); pair i
        is (x[i], y[i]), both of class labels[i].
      x_out, y_out: decoder outputs of p(x | z1, z2), p(y | z3, z4) at a sample of each posterior.
      mu_*, logvar_*: the posteriors [B, D], content first: dims [:content_dim] are z2 (z4), the
        rest z1 (z3).
      logits_x, logits_y: the shared classifier's logits [B, K] at a sample of the content
        posterior (one-sample estimate of E_q(z2|x)[log p(ℓ|z2)]).
      reconstruction_scale: multiplies log p(x|z) and log p(y|z) (e.g. 1/s² for images the
        model sees upsampled s-fold: the mean over each pixel's s² copies).
      classifier_weight, prior_weight, cross_weight: weights of the classifier terms, of the four
        prior KLs and of the cross-domain KL (all 1 in the paper).

    Returns (loss, aux): loss = mean_i [−L(x_i, ℓ_i) − L(y_i, ℓ_i) + KL(q(z2|x_i) ‖ q(z4|y_i))]
    with the weights applied; aux the batch means of every term in nats, and the accuracies.
    """
    c = int(content_dim)
    if not 0 < c <= mu_x.shape[-1] or mu_x.shape[-1] != mu_y.shape[-1]:
        raise ValueError(f"content_dim must be in [1, {mu_x.shape[-1]}] with equal latent sizes in both domains, "
                         f"got {c} for {mu_x.shape[-1]} and {mu_y.shape[-1]} dims")
    rec_x = reconstruction_log_likelihood(x, x_out, likelihood) * reconstruction_scale
    rec_y = reconstruction_log_likelihood(y, y_out, likelihood) * reconstruction_scale
    kl_x = dist.gaussian_kl(mu_x, logvar_x)  # [B, D] against N(0, I)
    kl_y = dist.gaussian_kl(mu_y, logvar_y)
    nll_x, nll_y = _class_nll(logits_x, labels), _class_nll(logits_y, labels)
    cross = cross_domain_kl(mu_x[:, :c], logvar_x[:, :c], mu_y[:, :c], logvar_y[:, :c])
    prior = jnp.sum(kl_x, -1) + jnp.sum(kl_y, -1)
    per_pair = (-(rec_x + rec_y) + classifier_weight * (nll_x + nll_y) + prior_weight * prior
                + cross_weight * cross)
    aux = {
        "reconstruction_x": jnp.mean(-rec_x),
        "reconstruction_y": jnp.mean(-rec_y),
        "class_nll_x": jnp.mean(nll_x),
        "class_nll_y": jnp.mean(nll_y),
        "kl_content_x": jnp.mean(jnp.sum(kl_x[:, :c], -1)),
        "kl_style_x": jnp.mean(jnp.sum(kl_x[:, c:], -1)),
        "kl_content_y": jnp.mean(jnp.sum(kl_y[:, :c], -1)),
        "kl_style_y": jnp.mean(jnp.sum(kl_y[:, c:], -1)),
        "cross_kl": jnp.mean(cross),
        "accuracy_x": _accuracy(logits_x, labels),
        "accuracy_y": _accuracy(logits_y, labels),
    }
    return jnp.mean(per_pair), aux
