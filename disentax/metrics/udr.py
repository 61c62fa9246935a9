"""UDR, unsupervised disentanglement ranking (Duan, Matthey, Saraiva, Watters, Burgess, Lerchner &
Higgins 2020, "Unsupervised Model Selection for Variational Disentangled Representation Learning",
ICLR).

No ground truth: a model is scored by how consistently other seeds of the same hyperparameter
setting found *the same* axes. For two models i, j encoding the same N inputs, R[a, b] is the
absolute Spearman correlation between latent a of model i and latent b of model j, over the latents
each model uses (informative: mean KL(q(z_d|x) ‖ p(z_d)) above `kl_threshold`, 0.01 nats). With
r_a = max_b R[a, b] and r_b = max_a R[a, b], and d_i, d_j the numbers of informative latents,

    UDR_ij = 1/(d_i + d_j) [ sum_b r_b^2 / sum_a R[a, b]  +  sum_a r_a^2 / sum_b R[a, b] ],

each ratio being 1 when a latent is similar to one latent of the other model and 0 to the rest, and
about 1/d when its similarity is spread evenly. A model's UDR is the median of UDR_ij over the other
models j of its setting.

Read it with N in mind: independent latents of N samples still correlate by about 0.8/sqrt(N),
and those entries of R count in the ratios, so two identical models score below 1 (0.84 to 0.95
for 4 latents at N = 600 across seeds, above 0.98 at N = 20,000; the paper uses 1,000 inputs).

Choices: the Spearman variant (UDR_S of the paper; its lasso variant UDR_L is not implemented); the
inputs are the same images for both models and the codes their posterior means; a pair where either
model has no informative latent scores 0 (nothing is shared), as does a latent whose row or column
of R is all zero.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from disentax.metrics.mcc import abs_correlation_matrix

__all__ = ["informative_latents", "udr", "udr_pair"]


def informative_latents(kl_per_dim: Any, kl_threshold: float = 0.01) -> np.ndarray:
    """Boolean [D]: the latents whose mean KL to the prior exceeds `kl_threshold` nats."""
    kl = np.asarray(kl_per_dim, np.float64)
    if kl.ndim != 1 or not np.all(np.isfinite(kl)):
        raise ValueError(f"kl_per_dim must be a finite [D] vector, got shape {kl.shape}")
    return kl > float(kl_threshold)


def _concentration(r: np.ndarray) -> np.ndarray:
    """sum over rows of max^2 / sum, per column of r; a zero column counts 0."""
    total = r.sum(axis=0)
    return np.where(total > 0, r.max(axis=0) ** 2 / np.where(total > 0, total, 1.0), 0.0)


def udr_pair(codes_i: Any, codes_j: Any, kl_i: Any, kl_j: Any, kl_threshold: float = 0.01) -> float:
    """UDR_ij of two models' codes ``[N, D_i]``, ``[N, D_j]`` of the same N inputs, with their latents'
    mean KLs ``[D_i]``, ``[D_j]`` (the module docstring's equation)."""
    a, b = np.asarray(codes_i, np.float64), np.asarray(codes_j, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"codes must be [N, D] arrays of the same N inputs, got {a.shape} and {b.shape}")
    keep_i, keep_j = informative_latents(kl_i, kl_threshold), informative_latents(kl_j, kl_threshold)
    if keep_i.shape[0] != a.shape[1] or keep_j.shape[0] != b.shape[1]:
        raise ValueError(f"kl vectors ({keep_i.shape[0]}, {keep_j.shape[0]}) must match the codes' widths "
                         f"({a.shape[1]}, {b.shape[1]})")
    d_i, d_j = int(keep_i.sum()), int(keep_j.sum())
    if d_i == 0 or d_j == 0:
        return 0.0
    r = abs_correlation_matrix(a[:, keep_i], b[:, keep_j], "spearman")  # [d_i, d_j]
    return float((_concentration(r).sum() + _concentration(r.T).sum()) / (d_i + d_j))


def udr(codes: Sequence[Any], kl_per_dim: Sequence[Any], kl_threshold: float = 0.01) -> dict:
    """UDR of M >= 2 models of one hyperparameter setting (different seeds), from their codes
    ``[N, D]`` of the same N inputs and their latents' mean KLs ``[D]``.

    Returns {"udr": [M] (each model's median UDR_ij over the others), "pairwise": [M, M] (UDR_ij,
    symmetric, diagonal NaN), "informative": [M] (number of informative latents)}.
    """
    m = len(codes)
    if m < 2 or len(kl_per_dim) != m:
        raise ValueError(f"UDR compares seeds: give codes and KLs of at least 2 models, got {m} and {len(kl_per_dim)}")
    pairwise = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(i + 1, m):
            pairwise[i, j] = pairwise[j, i] = udr_pair(codes[i], codes[j], kl_per_dim[i], kl_per_dim[j], kl_threshold)
    scores = [float(np.median(np.delete(pairwise[i], i))) for i in range(m)]
    return {"udr": scores, "pairwise": pairwise.tolist(),
            "informative": [int(informative_latents(k, kl_threshold).sum()) for k in kl_per_dim]}
