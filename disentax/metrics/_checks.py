"""Input checks shared by the metrics that accept continuous factors (MCC, DCI-ES, InfoMEC).

:func:`~disentax.metrics.utils.check_codes_factors` insists on integer factor labels; these metrics
also take real-valued factors, so they validate with :func:`check_codes_values` instead and keep
the integer check for the factors they treat as classes.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from disentax.metrics.utils import check_codes_factors

__all__ = ["check_codes_values", "check_mixed_factors", "continuous_mask"]


def check_codes_values(codes: Any, factors: Any, what: str = "codes") -> tuple[np.ndarray, np.ndarray]:
    """``codes [N, D]`` and real-valued ``factors [N, K]`` (a 1-d factor is one column) as float64."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] < 1:
        raise ValueError(f"{what} must have shape [N, D] with N, D >= 1, got {codes.shape}")
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or factors.shape[0] != codes.shape[0]:
        raise ValueError(f"factors must have shape [N, K] with N = {codes.shape[0]} rows like {what}, got {factors.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{what} contain NaN or infinite values")
    if not np.all(np.isfinite(factors)):
        raise ValueError("factors contain NaN or infinite values")
    return codes, factors


def continuous_mask(continuous: bool | Sequence[bool], num_factors: int) -> np.ndarray:
    """A ``[K]`` bool mask from one flag for all factors or one flag per factor."""
    mask = np.asarray(continuous, dtype=bool)
    if mask.ndim == 0:
        return np.full(num_factors, bool(mask))
    if mask.shape != (num_factors,):
        raise ValueError(f"continuous_factors must be a bool or {num_factors} bools (one per factor), got shape {mask.shape}")
    return mask


def check_mixed_factors(codes: Any, factors: Any, continuous: bool | Sequence[bool], what: str = "codes"
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, factors, mask)``: factors as float64, those not flagged continuous checked to be integer labels."""
    codes, values = check_codes_values(codes, factors, what)
    mask = continuous_mask(continuous, values.shape[1])
    if not np.all(mask):
        check_codes_factors(codes, values[:, ~mask], what)
    return codes, values, mask
