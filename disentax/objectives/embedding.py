"""Supervised deep-embedding losses: the F-statistic loss and the triplet loss it is compared with.

Both take an embedding z [B, D] and integer class labels [B] (identities), so minibatches of a
few classes with several members each (`disentax.data.identities.sample_identity_batch`) go in
as they are. Labels outside [0, num_classes) are ignored, which lets a caller pad a batch.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc

__all__ = ["class_pair_separation", "f_statistic_loss", "triplet_loss"]


def _class_moments(z, labels, num_classes: int):
    """Per class: count n [K], mean [K, D] and within-class sum of squares Σ_j (z_j − z̄)² [K, D]."""
    ones = jnp.ones(labels.shape, z.dtype)
    n = jax.ops.segment_sum(ones, labels, num_classes)
    mean = jax.ops.segment_sum(z, labels, num_classes) / jnp.maximum(n, 1)[:, None]
    # Out-of-range labels gather a clamped class here, but segment_sum drops their rows.
    centred = z - mean[jnp.clip(labels, 0, num_classes - 1)]
    within = jax.ops.segment_sum(centred * centred, labels, num_classes)
    return n, mean, within


def _standardised(z, rows):
    """z centred and scaled per dimension by the batch's mean and largest deviation over `rows`, both
    behind stop_gradient. s is invariant to a shift and a scale of a dimension, so the loss and its
    gradient are unchanged, while the sums of squares stay representable at any scale of z (at
    |z| ~ 1e-18 they underflow float32 and the gradient of SS_b / (SS_b + SS_w) turns NaN)."""
    w = rows.astype(z.dtype)[:, None]
    count = jnp.maximum(jnp.sum(w), 1)
    mean = jnp.sum(w * z, 0) / count
    scale = jnp.max(w * jnp.abs(z - mean), 0)  # no squares: nothing underflows before the division
    scale = jnp.where(scale > 0, scale, 1)
    return (z - jax.lax.stop_gradient(mean)) / jax.lax.stop_gradient(scale)


def class_pair_separation(z, labels, num_classes: int):
    """Pr(S < s | μ_αk = μ_βk) for every class pair (α, β) and embedding dimension k, as logs.

    Ridgeway & Mozer (2018), Eq. 1: for the members of classes α and β on dimension k,

        s = ñ Σ_i n_i (z̄_i − z̿)² / Σ_ij (z_ij − z̄_i)²,  ñ = n_α + n_β − 2,
        Pr(S < s) = I(s / (s + ñ); 1/2, ñ/2),

    the CDF of F(1, ñ), with I the regularised incomplete beta function. Written through
    s / (s + ñ) = SS_between / (SS_between + SS_within), which stays finite when either sum is zero.

    z̿ is the grand mean of the pair's members, (n_α z̄_α + n_β z̄_β) / (n_α + n_β), so
    SS_between = n_α n_β / (n_α + n_β) (z̄_α − z̄_β)², ANOVA's, under which s is exactly F(1, ñ)
    distributed when the means agree. The paper writes z̿ = ⟨z̄_i⟩, the plain mean of the two class
    means; the two are the same when n_α = n_β, as in its minibatches and in ours.

    Computed on z standardised per dimension (`_standardised`), which changes no value.

    Returns (log_pr [K, K, D], valid [K, K] bool): valid marks the pairs α < β with both classes in
    the batch and ñ ≥ 1; other entries are finite but meaningless.
    """
    z = jnp.asarray(z)
    labels = jnp.asarray(labels).astype(jnp.int32)
    if z.ndim != 2 or labels.shape != z.shape[:1]:
        raise ValueError(f"z must be [B, D] and labels [B], got {z.shape} and {labels.shape}")
    z = _standardised(z, (labels >= 0) & (labels < num_classes))
    n, mean, within = _class_moments(z, labels, num_classes)
    na, nb = n[:, None], n[None, :]
    tot = jnp.maximum(na + nb, 1)
    between = (na * nb / tot)[..., None] * (mean[:, None, :] - mean[None, :, :]) ** 2  # [K, K, D]
    ss_within = within[:, None, :] + within[None, :, :]
    dof = na + nb - 2
    k = jnp.arange(num_classes)
    valid = (k[:, None] < k[None, :]) & (na >= 1) & (nb >= 1) & (dof >= 1)
    total = between + ss_within
    x = between / jnp.where(total > 0, total, 1)
    # Identical classes (x = 0) have Pr = 0 and ln Pr = −∞: the floor keeps the loss and its gradient
    # finite there (the gradient of ½ ln x grows without bound as the class means meet); the ceiling
    # keeps (1 − x)^(ñ/2 − 1) finite for ñ = 1 when the within-class spread vanishes.
    floor = 1e-300 if z.dtype == jnp.float64 else 1e-30
    x = jnp.clip(x, floor, 1 - jnp.finfo(z.dtype).eps)
    b = (jnp.maximum(dof, 1) / 2)[..., None].astype(z.dtype)
    log_pr = jnp.log(betainc(jnp.asarray(0.5, z.dtype), b, x))
    return log_pr, valid


def f_statistic_loss(z, labels, num_classes: int, d: int):
    """The F-statistic loss (Ridgeway & Mozer (2018), Sec. 1.1):

        L_F = − Σ_{α<β} Σ_{k ∈ D_αβ} ln Pr(S < s | μ_αk = μ_βk),

    with Pr from `class_pair_separation` (Eq. 1) and D_αβ the `d` dimensions on which the pair is
    already best separated (largest Pr). The selection is a hard choice; the gradient flows through
    the selected terms. Summed over pairs, as in the paper.

    `num_classes` (static) bounds the labels; `d` (static) is in [1, D] (the paper: insensitive for
    2 < d < 100; d = 2 for its sprites). Returns (loss, aux) with aux {"num_pairs", "mean_pr"}:
    the pairs counted and the mean Pr over their selected dimensions (1 when all are separated).
    """
    z = jnp.asarray(z)
    d = int(d)
    if not 1 <= d <= z.shape[-1]:
        raise ValueError(f"d must be in [1, {z.shape[-1]}] (the embedding's dimensions), got {d}")
    log_pr, valid = class_pair_separation(z, labels, num_classes)
    top, _ = jax.lax.top_k(log_pr, d)  # [K, K, d]
    w = valid.astype(z.dtype)
    num_pairs = jnp.sum(w)
    loss = -jnp.sum(w[..., None] * top)
    mean_pr = jnp.sum(w[..., None] * jnp.exp(top)) / jnp.maximum(num_pairs * d, 1)
    return loss, {"num_pairs": num_pairs, "mean_pr": mean_pr}


def triplet_loss(z, labels, margin: float = 1.0):
    """The triplet loss over every triplet of the batch (Schroff, Kalenichenko & Philbin (2015),
    Eq. 1, with Euclidean distances as Ridgeway & Mozer (2018) train it):

        L = mean over (a, p, n) with y_a = y_p, a ≠ p, y_n ≠ y_a of max(0, ‖z_a − z_p‖ − ‖z_a − z_n‖ + margin).

    The embedding is not normalised (Ridgeway & Mozer put only the histogram and binomial-deviance
    baselines on the unit sphere). Labels < 0 are ignored. Returns (loss, aux) with aux
    {"num_triplets", "active_fraction"} (the fraction with a positive hinge).
    """
    z = jnp.asarray(z)
    labels = jnp.asarray(labels)
    sq = jnp.sum((z[:, None, :] - z[None, :, :]) ** 2, -1)
    # sqrt has an infinite derivative at 0 (an anchor on top of its positive, or itself): there
    # the distance is taken as 0 with a zero gradient.
    pos_sq = sq > 0
    dist = jnp.where(pos_sq, jnp.sqrt(jnp.where(pos_sq, sq, 1)), 0)
    ok = labels >= 0
    same = (labels[:, None] == labels[None, :]) & ok[:, None] & ok[None, :]
    pos = same & ~jnp.eye(z.shape[0], dtype=bool)
    neg = ~same & ok[:, None] & ok[None, :]
    mask = pos[:, :, None] & neg[:, None, :]  # [a, p, n]
    hinge = jnp.maximum(dist[:, :, None] - dist[:, None, :] + margin, 0)
    count = jnp.sum(mask)
    denom = jnp.maximum(count, 1).astype(z.dtype)
    loss = jnp.sum(jnp.where(mask, hinge, 0)) / denom
    active = jnp.sum(mask & (hinge > 0)) / denom
    return loss, {"num_triplets": count.astype(z.dtype), "active_fraction": active}
