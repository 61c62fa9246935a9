"""Linear-correlation and dimensionality diagnostics of a representation (Kågebäck &
Mogren 2017, "Disentanglement by penalizing correlation", Sec. 3.1).

Each takes codes [N, p] (one row per example) and uses their sample covariance C
(1/(N − 1) normalisation, as L_Σ does). Computed in numpy float64.
"""
from __future__ import annotations

import numpy as np


def _covariance(codes) -> np.ndarray:
    h = np.asarray(codes, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] < 2:
        raise ValueError(f"codes must be [N, p] with N >= 2, got shape {h.shape}")
    return np.atleast_2d(np.cov(h, rowvar=False, ddof=1))


def mapc(codes) -> float:
    """Mean absolute Pearson correlation over the p(p − 1)/2 pairs i < j:

        MAPC = (2 / (p² − p)) Σ_{i<j} |C_ij| / (√C_ii √C_jj).

    A pair involving a constant dimension (zero variance, where Pearson correlation is
    undefined) counts as 0. p = 1 gives 0.
    """
    c = _covariance(codes)
    p = c.shape[0]
    if p < 2:
        return 0.0
    sd = np.sqrt(np.clip(np.diag(c), 0.0, None))
    denom = np.outer(sd, sd)
    i, j = np.triu_indices(p, k=1)
    num, den = np.abs(c[i, j]), denom[i, j]
    corr = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return float(2.0 * corr.sum() / (p * p - p))


CVR_NORMALISATIONS = ("formula", "reported")


def cvr(codes, normalise: str = "formula") -> float:
    """Covariance/variance ratio (Kågebäck & Mogren 2017, Sec. 3.1) of the sample covariance C.

    * ``normalise="formula"`` (default): the paper's printed formula, CVR = ‖C‖₁ / (p² · tr C),
      with ‖C‖₁ = Σ_ij |C_ij| (diagonal included). Since |C_ij| ≤ √(C_ii C_jj),
      ‖C‖₁ ≤ (Σ_i √C_ii)² ≤ p · tr C, so this lies in [1/p², 1/p]; a diagonal C gives 1/p².
    * ``normalise="reported"``: CVR = ‖C‖₁ / tr C = p² × the above, in [1, p], 1 for uncorrelated
      codes. This is the reading that reproduces the paper's numbers: its text calls one "the
      optimal value", and its CIFAR-10 results (84-d coding layer) are CVR 6.56 with L_Σ, 20.00
      without regularisation and 4.03 with L1, impossible under the printed 1/p² (at most
      1/84 ≈ 0.012) but inside [1, 84] here.
    """
    if normalise not in CVR_NORMALISATIONS:
        raise ValueError(f"unknown normalise {normalise!r}; allowed: {', '.join(CVR_NORMALISATIONS)}")
    c = _covariance(codes)
    p = c.shape[0]
    tr = np.trace(c)
    if tr <= 0:
        raise ValueError("cvr is undefined for codes with zero total variance")
    ratio = np.abs(c).sum() / tr
    return float(ratio / (p * p) if normalise == "formula" else ratio)


def _sorted_variances(codes) -> np.ndarray:
    return np.sort(np.clip(np.diag(_covariance(codes)), 0.0, None))[::-1]


def tdv(codes, d: int) -> float:
    """Top-d variance share: Σ of the d largest per-dimension variances C_ii / tr C."""
    v = _sorted_variances(codes)
    if not 1 <= int(d) <= v.size:
        raise ValueError(f"d must be between 1 and the code size {v.size}, got {d}")
    if v.sum() <= 0:
        raise ValueError("tdv is undefined for codes with zero total variance")
    return float(v[: int(d)].sum() / v.sum())


def ud90(codes, fraction: float = 0.9) -> int:
    """UD_90%: the fewest coding dimensions (largest variances first) holding `fraction` of tr C."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    v = _sorted_variances(codes)
    if v.sum() <= 0:
        raise ValueError("ud90 is undefined for codes with zero total variance")
    share = np.cumsum(v) / v.sum()
    # A small tolerance so that an exact 90% boundary is not lost to rounding.
    return int(np.searchsorted(share, fraction - 1e-12) + 1)


__all__ = ["CVR_NORMALISATIONS", "cvr", "mapc", "tdv", "ud90"]
