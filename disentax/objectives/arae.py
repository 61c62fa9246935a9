"""Objectives of the adversarially regularised autoencoder (Zhao, Kim, Zhang, Rush & LeCun (2018),
"Adversarially regularized autoencoders for unaligned text style-transfer", Eq. 1 and Alg. 1).

Alg. 1 alternates five blocks; their losses, as functions of arrays (a critic's scores f_w(·) [B],
a code classifier's logits [B, 2], sentiment labels y [B]):

- (1) reconstruction, L_rec = −(1/m) Σ_i log p_ψ(x_i | c_i, y_i): the summed token negative
  log-likelihood of each sentence, averaged (`disentax.objectives.text.sequence_nll`);
- (2) the critic, −(1/m) Σ f_w(c_i) + (1/m) Σ f_w(c̃_i): exactly the WGAN critic loss of
  Arjovsky et al. (2017) with the encoder's codes c as the "real" side
  (`disentax.objectives.adversarial.wgan_critic_loss`), followed by weight clipping
  (`disentax.objectives.adversarial.clip_params`);
- (2b) the code classifier, −(1/m) Σ log p_u(y_i | c_i): `code_classifier_loss`;
- (3) encoder and generator against the critic, (1/m) Σ f_w(c_i) − (1/m) Σ f_w(c̃_i):
  `code_adversary_loss` (the encoder lowers the critic's score of its codes, the generator raises
  the score of its own: both move their distributions towards each other);
- (3b) the encoder against the classifier, −(1/m) Σ log p_u(1 − y_i | c_i):
  `classifier_confusion_loss`.

`unit_sphere` is the normalisation of the codes onto the unit sphere that the method applies to
the encoder's and the generator's outputs (a choice: see `disentax.methods.arae`).

Every log-probability comes from `log_softmax` of the logits, so each loss and its gradient are
finite for any finite logits. Pure functions of arrays, safe under `jit`, `vmap` and `grad`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["classifier_confusion_loss", "code_adversary_loss", "code_classifier_loss", "unit_sphere"]


def _check(name: str, x, ndim: int):
    if jnp.ndim(x) != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {jnp.shape(x)}")


def unit_sphere(codes, eps: float = 1e-12):
    """c / ‖c‖₂ along the last axis: codes on the unit sphere (Zhao et al. (2018) leave the code
    space open; see `disentax.methods.arae` for why it is the sphere here).

    Computed as v / ‖v‖ with v = c / max_i |c_i|, so no square overflows or underflows (a code of
    1e20s or of 1e-20s lands on the sphere as well); the gradient is exact, since c / ‖c‖ does not
    depend on the scale it is divided by. A code whose entries are all below `eps` in magnitude
    maps to c / eps (the zero vector to zero), with a finite gradient.
    """
    scale = jax.lax.stop_gradient(jnp.max(jnp.abs(codes), axis=-1, keepdims=True))
    v = codes / jnp.maximum(scale, eps)
    # Σ v² ≥ 1 whenever max |c_i| ≥ eps (one entry of v is ±1).
    return v / jnp.sqrt(jnp.maximum(jnp.sum(jnp.square(v), axis=-1, keepdims=True), 1.0))


def code_adversary_loss(real_scores, fake_scores):
    """Zhao et al. (2018), Alg. 1, step (3): the loss of the encoder φ and the generator θ against
    the critic f_w,

        L_encs = (1/m) Σ_i f_w(enc_φ(x_i)) − (1/m) Σ_i f_w(g_θ(z_i))
               = mean(real_scores) − mean(fake_scores),

    the negative of the critic's loss (2): the encoder lowers the critic's scores of its codes and
    the generator raises the scores of its codes. `real_scores` [B] = f_w(c), `fake_scores` [B'] =
    f_w(c̃).

    Returns (loss, aux) with aux key wasserstein = mean(real_scores) − mean(fake_scores), the
    critic's estimate of W(P_r, P_g) (up to its Lipschitz constant), which here equals the loss.
    """
    _check("real_scores", real_scores, 1)
    _check("fake_scores", fake_scores, 1)
    w = jnp.mean(real_scores) - jnp.mean(fake_scores)
    return w, {"wasserstein": w}


def _binary(logits, labels):
    _check("logits", logits, 2)
    _check("labels", labels, 1)
    if logits.shape[-1] != 2:
        raise ValueError(f"the code classifier of Zhao et al. (2018) is binary (y and 1 − y): logits [B, 2], "
                         f"got {logits.shape}")
    return jax.nn.log_softmax(logits, axis=-1)


def code_classifier_loss(logits, labels):
    """Zhao et al. (2018), Alg. 1, step (2b): the code classifier's cross-entropy

        L_class(φ, u) = −(1/m) Σ_i log p_u(y_i | c_i),   p_u(· | c) = softmax(logits),

    logits [B, 2] of p_u at the codes, labels [B] in {0, 1}. Returns (loss, aux) with aux key
    accuracy (fraction whose larger logit is the label; a tie counts as class 0).
    """
    logp = _binary(logits, labels)
    labels = labels.astype(jnp.int32)
    nll = -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
    accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
    return jnp.mean(nll), {"accuracy": accuracy}


def classifier_confusion_loss(logits, labels):
    """Zhao et al. (2018), Alg. 1, step (3b): the encoder's loss against the code classifier,

        −(1/m) Σ_i log p_u(1 − y_i | c_i),

    the cross-entropy towards the *opposite* label (the encoder makes each code look like the other
    sentiment's). logits [B, 2], labels [B] in {0, 1}. Returns (loss, aux) with aux key
    fooled (fraction of codes the classifier assigns to 1 − y; a tie counts as class 0).
    """
    logp = _binary(logits, labels)
    flipped = 1 - labels.astype(jnp.int32)
    nll = -jnp.take_along_axis(logp, flipped[:, None], axis=-1)[:, 0]
    fooled = jnp.mean(jnp.argmax(logits, -1) == flipped)
    return jnp.mean(nll), {"fooled": fooled}
