"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising", Sec. 3).

The objective keeps the plain ELBO and adds γ·TC(z), the total correlation
KL(q(z) ‖ ∏_j q(z_j)) of the aggregate posterior. TC is estimated by the density-ratio
trick: a discriminator D trained to tell samples of q(z) from samples of ∏_j q(z_j) gives

    TC(z) ≈ E_{q(z)}[log D(z) / (1 − D(z))]                                  (Eq. 5)

and samples of ∏_j q(z_j) come from permuting each latent dimension independently across
a batch of samples of q(z) (`permute_dims`).

Logit convention (same as disentanglement_lib): the discriminator returns two logits per
code; index 0 means "drawn from q(z)", index 1 means "drawn from the permuted product of
marginals". Then log D/(1 − D) = logit_0 − logit_1 exactly, with no sigmoid or log of a
probability, so the estimate stays finite for any logits.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from disentax.objectives.elbo import beta_vae

Q_LOGIT, PERMUTED_LOGIT = 0, 1


def permute_dims(key, z):
    """Permute every column of `z` [B, D] independently across the batch.

    If the rows of `z` are samples of q(z), the rows of the result are (approximately, for
    a large batch) samples of ∏_j q(z_j): each column keeps its values (its marginal) but
    the pairing between columns is destroyed (Kim & Mnih 2018, Sec. 3 / Alg. 1 PERMUTE-DIMS).
    """
    if z.ndim != 2:
        raise ValueError(f"permute_dims expects codes of shape [B, D], got {z.shape}")
    batch, dims = z.shape
    perms = jax.vmap(lambda k: jax.random.permutation(k, batch))(jax.random.split(key, dims))  # [D, B]
    return jnp.take_along_axis(z, perms.T, axis=0)


def discriminator_tc(disc_logits):
    """Per-sample density-ratio estimate log D(z)/(1 − D(z)) = logit_0 − logit_1 → [B]."""
    return disc_logits[..., Q_LOGIT] - disc_logits[..., PERMUTED_LOGIT]


def factor_vae_loss(x, out, mu, logvar, *, gamma: float, disc_logits, likelihood: str = "bernoulli"):
    """FactorVAE loss for the VAE (Kim & Mnih 2018, Eq. 4 with Eq. 5 for the TC term):

        E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z)) + γ · mean_b (logit_0(z_b) − logit_1(z_b)),

    where `disc_logits` [B, 2] are the discriminator's logits on the same samples z ~ q(z|x)
    that produced `out`. Gradients reach the encoder through z; stop the gradient into the
    discriminator's parameters outside (the training step does).

    Returns (loss, aux) with aux keys reconstruction, kl, kl_per_dim [D], elbo, tc (the
    discriminator's TC estimate on this batch, nats).
    """
    if disc_logits.shape != (mu.shape[0], 2):
        raise ValueError(f"disc_logits must have shape [B, 2] = {(mu.shape[0], 2)}, got {disc_logits.shape}")
    vae_loss, aux = beta_vae(x, out, mu, logvar, beta=1.0, likelihood=likelihood)
    tc = jnp.mean(discriminator_tc(disc_logits))
    return vae_loss + gamma * tc, {**aux, "tc": tc}


def factor_vae_discriminator_loss(logits_q, logits_perm):
    """Cross-entropy of the discriminator, balanced over its two sources (Kim & Mnih 2018, Alg. 1):

        −½ [ mean_i log softmax(logits_q_i)_0 + mean_j log softmax(logits_perm_j)_1 ],

    `logits_q` [B, 2] on samples of q(z), `logits_perm` [B', 2] on permuted samples. Computed with
    log-softmax, so it is finite for any finite logits.

    Returns (loss, aux) with aux keys accuracy (fraction of both sets classified correctly,
    each set weighted ½), accuracy_q, accuracy_perm and tc (mean logit_0 − logit_1 on `logits_q`).
    """
    for name, l in (("logits_q", logits_q), ("logits_perm", logits_perm)):
        if l.ndim != 2 or l.shape[-1] != 2:
            raise ValueError(f"{name} must have shape [B, 2], got {l.shape}")
    log_pq = jax.nn.log_softmax(logits_q, axis=-1)[:, Q_LOGIT]
    log_pp = jax.nn.log_softmax(logits_perm, axis=-1)[:, PERMUTED_LOGIT]
    loss = -0.5 * (jnp.mean(log_pq) + jnp.mean(log_pp))
    acc_q = jnp.mean(jnp.argmax(logits_q, axis=-1) == Q_LOGIT)
    acc_p = jnp.mean(jnp.argmax(logits_perm, axis=-1) == PERMUTED_LOGIT)
    aux = {
        "accuracy": 0.5 * (acc_q + acc_p),
        "accuracy_q": acc_q,
        "accuracy_perm": acc_p,
        "tc": jnp.mean(discriminator_tc(logits_q)),
    }
    return loss, aux
