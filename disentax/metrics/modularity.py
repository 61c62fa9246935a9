"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings with
the F-Statistic Loss", Sec. 4).

Modularity: with the plug-in mutual information m_dk between code d (20-bin histogram) and factor k,
and theta_d = max_k m_dk,

    delta_d = sum_{k != argmax} m_dk^2 / (theta_d^2 (K - 1)),   modularity = mean_d (1 - delta_d),

a code carrying no information (theta_d = 0) scoring 0 (disentanglement_lib's convention).

Explicitness: per factor a logistic regression from all (standardised) codes to the factor's
classes; the score is the one-vs-rest ROC-AUC of its predicted probabilities, macro-averaged over
classes, then averaged over factors.

Departures from disentanglement_lib: sklearn's current ``LogisticRegression()`` defaults
(lbfgs, multinomial) rather than the 2018 ones (liblinear, one-vs-rest); a constant code column is
left at 0 after standardisation instead of dividing by a zero standard deviation; test classes are
binarised against the classifier's training classes.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from disentax.metrics.utils import (
    check_codes_factors,
    discrete_mutual_info,
    histogram_discretize,
    require_factors,
    sample_codes,
)

__all__ = ["explicitness", "modularity", "modularity_explicitness", "modularity_explicitness_score"]


def modularity(mutual_info: Any) -> float:
    """Modularity from a ``[D, K]`` mutual-information matrix (see module docstring)."""
    m2 = np.square(np.asarray(mutual_info, dtype=np.float64))
    if m2.shape[1] < 2:
        raise ValueError(f"modularity needs at least 2 factors, got {m2.shape[1]}")
    top = m2.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (m2.sum(axis=1) - top) / (top * (m2.shape[1] - 1))
    score = np.where(top > 0, 1.0 - delta, 0.0)
    return float(np.mean(score))


def _auc(model, x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    proba = model.predict_proba(x)
    onehot = (y[:, None] == model.classes_[None, :]).astype(np.int64)
    present = (onehot.sum(0) > 0) & (onehot.sum(0) < len(y))  # AUC needs both outcomes
    if not np.any(present):
        return float("nan")
    return float(roc_auc_score(onehot[:, present], proba[:, present], average="macro"))


def explicitness(codes_train, factors_train, codes_test, factors_test) -> tuple[float, float]:
    """(train, test) explicitness: mean over factors of the logistic-regression ROC-AUC."""
    from sklearn.linear_model import LogisticRegression

    x_tr, y_tr = check_codes_factors(codes_train, factors_train, "codes_train")
    x_te, y_te = check_codes_factors(codes_test, factors_test, "codes_test")
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    scores_tr, scores_te = [], []
    for k in range(y_tr.shape[1]):
        if len(np.unique(y_tr[:, k])) < 2:
            continue
        model = LogisticRegression().fit(x_tr, y_tr[:, k])
        scores_tr.append(_auc(model, x_tr, y_tr[:, k]))
        scores_te.append(_auc(model, x_te, y_te[:, k]))
    if not scores_tr:
        raise ValueError("explicitness needs a factor taking at least two values")
    return float(np.nanmean(scores_tr)), float(np.nanmean(scores_te))


def modularity_explicitness(
    codes_train: Any, factors_train: Any, codes_test: Any, factors_test: Any, num_bins: int = 20
) -> dict:
    """``{"modularity", "explicitness", "explicitness_train"}``; explicitness is the test-set score.

    Modularity uses the training codes only (as disentanglement_lib does).
    """
    x_tr, y_tr = check_codes_factors(codes_train, factors_train, "codes_train")
    mi = discrete_mutual_info(histogram_discretize(x_tr, num_bins), y_tr)
    expl_tr, expl_te = explicitness(x_tr, y_tr, codes_test, factors_test)
    return {"modularity": modularity(mi), "explicitness": expl_te, "explicitness_train": expl_tr}


def modularity_explicitness_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    num_test: int = 5_000,
    num_bins: int = 20,
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`modularity_explicitness` on sampled codes (disentanglement_lib: 10,000 / 5,000, 20 bins)."""
    require_factors(dataset, "modularity")
    k_tr, k_te = jax.random.split(key)
    tr = sample_codes(k_tr, representation_fn, dataset, num_train, batch_size, progress, "modularity train")
    te = sample_codes(k_te, representation_fn, dataset, num_test, batch_size, progress, "modularity test")
    return modularity_explicitness(*tr, *te, num_bins=num_bins)
