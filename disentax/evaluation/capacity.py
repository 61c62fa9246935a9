"""What the factor-conditioned capacity experiment of Burgess et al. (2018), Sec. 4.3 reports: the
KL each ground-truth factor holds as the capacity C rises, and the capacity at which each factor
starts to be encoded (Fig. 3)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["capacity_onsets", "factor_kl", "standardise_factors"]


def standardise_factors(factors, factor_sizes: Sequence[int]):
    """Factor indices [..., K] -> (f − (s − 1)/2) / sqrt((s² − 1)/12): zero mean and unit variance
    under the uniform distribution over each factor's s values (a factor with one value -> 0).

    Works on numpy and jax arrays alike (only arithmetic).
    """
    s = np.asarray(factor_sizes, np.float64)
    std = np.sqrt(np.maximum(s * s - 1, 0) / 12)
    inv = np.where(std > 0, 1 / np.where(std > 0, std, 1), 0).astype(np.float32)
    return (factors - ((s - 1) / 2).astype(np.float32)) * inv


def factor_kl(scale, log_noise, second_moment=1.0) -> np.ndarray:
    """KL(q(z_k|f) ‖ N(0, 1)) per factor, averaged over the data, for z_k = w_k f_k + σ_k ε:

        E_f KL = ½ (w_k² E[f_k²] + σ_k² − 1 − 2 ln σ_k)

    exact in closed form: E[f_k²] = 1 for factors standardised over a uniform grid
    (`standardise_factors`), 0 for a factor with one value. Returns [K] nats.
    """
    w = np.asarray(scale, np.float64)
    ls = np.asarray(log_noise, np.float64)
    return 0.5 * (w * w * np.asarray(second_moment, np.float64) + np.exp(2 * ls) - 1 - 2 * ls)


def capacity_onsets(capacity, kl_per_factor, threshold: float = 0.5) -> list[float | None]:
    """Per factor, the first capacity C (nats) at which it holds at least `threshold` nats.

    `capacity` [T] and `kl_per_factor` [T, K] are logged together as training raises C. The paper
    reads its onsets off Fig. 3 ("starting around C = 6 nats, the KL for the scale factor begins to
    climb from zero"); the threshold makes that reading a number. None: never reached.
    """
    c = np.asarray(capacity, np.float64)
    kl = np.asarray(kl_per_factor, np.float64)
    if kl.ndim != 2 or kl.shape[0] != c.shape[0]:
        raise ValueError(f"kl_per_factor must be [T, K] with T = {c.shape[0]} capacities, got {kl.shape}")
    out = []
    for k in range(kl.shape[1]):
        hit = np.nonzero(kl[:, k] >= threshold)[0]
        out.append(float(c[hit[0]]) if hit.size else None)
    return out
