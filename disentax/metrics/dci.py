"""Disentanglement, completeness and informativeness (Eastwood & Williams 2018, "A Framework for the
Quantitative Evaluation of Disentangled Representations", Sec. 2).

One predictor per factor v_k from the codes c gives a matrix of relative importances R [D, K]
(R_dk = importance of code d for predicting factor k). Then, with P_dk = R_dk / sum_k R_dk and
P~_dk = R_dk / sum_d R_dk,

    D_d = 1 - H_K(P_d.),   disentanglement = sum_d rho_d D_d,   rho_d = sum_k R_dk / sum R,
    C_k = 1 - H_D(P~_.k),  completeness    = sum_k rho_k C_k,   rho_k = sum_d R_dk / sum R,

with entropies in base K (resp. D). Informativeness is the prediction quality of the predictors.

Importance models (``importance=``):

* ``"gbt"`` (default) — disentanglement_lib: one ``sklearn.ensemble.GradientBoostingClassifier``
  with default settings per factor, R = feature importances, informativeness = accuracy.
* ``"random_forest"`` — Eastwood & Williams' non-linear choice, also used by Esmaeili et al. 2019:
  ``RandomForestClassifier(n_estimators=10)`` (the paper's 10 trees; it tunes the
  other hyper-parameters on a validation set, we keep sklearn's defaults), informativeness =
  accuracy. Departure: the paper fits regressors to the factor values; we classify factor
  classes like disentanglement_lib's GBT so the informativeness numbers are comparable.
* ``"lasso"`` — Eastwood & Williams' linear choice: codes and factor values standardised
  (train statistics), ``sklearn.linear_model.Lasso(alpha=lasso_alpha)``, R = |weights|.
  Informativeness here is R^2 = 1 - NRMSE^2 on the standardised factor (the paper reports NRMSE;
  R^2 keeps "higher is better" like the classifiers).

disentanglement_lib's conventions kept: probabilities get ``+1e-11`` before the entropies, and an
all-zero importance matrix (e.g. constant codes) counts as uniform, scoring 0.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from disentax.metrics.utils import check_codes_factors, require_factors, sample_codes

__all__ = ["IMPORTANCE_MODELS", "dci", "dci_from_importance", "dci_score", "importance_matrix"]

IMPORTANCE_MODELS = ("gbt", "random_forest", "lasso")


def _entropy(p: np.ndarray, base: int, axis: int) -> np.ndarray:
    p = p / p.sum(axis=axis, keepdims=True)
    return -np.sum(p * np.log(p), axis=axis) / np.log(base)


def dci_from_importance(importance: Any) -> tuple[float, float]:
    """(disentanglement, completeness) from a non-negative importance matrix ``[D, K]``.

    With one factor (K = 1) every code is trivially disentangled; with one code (D = 1) every
    factor is trivially complete (entropy base 1 is undefined, the score is 1).
    """
    r = np.abs(np.asarray(importance, dtype=np.float64))
    if r.ndim != 2:
        raise ValueError(f"importance matrix must be [D, K], got shape {r.shape}")
    num_codes, num_factors = r.shape
    per_code = 1.0 - _entropy(r + 1e-11, num_factors, axis=1) if num_factors > 1 else np.ones(num_codes)
    per_factor = 1.0 - _entropy(r + 1e-11, num_codes, axis=0) if num_codes > 1 else np.ones(num_factors)
    weights = r if r.sum() > 0 else np.ones_like(r)
    code_weight = weights.sum(axis=1) / weights.sum()
    factor_weight = weights.sum(axis=0) / weights.sum()
    return float(np.sum(per_code * code_weight)), float(np.sum(per_factor * factor_weight))


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant column stays constant (0), not NaN
    return (train - mean) / std, (test - mean) / std


def importance_matrix(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    importance: str = "gbt",
    *,
    seed: int = 0,
    lasso_alpha: float = 0.02,
) -> tuple[np.ndarray, float, float]:
    """``(R [D, K], informativeness_train, informativeness_test)`` with the chosen importance model."""
    if importance not in IMPORTANCE_MODELS:
        raise ValueError(f"unknown importance {importance!r}; allowed: {', '.join(IMPORTANCE_MODELS)}")
    x_tr, y_tr = check_codes_factors(codes_train, factors_train, "codes_train")
    x_te, y_te = check_codes_factors(codes_test, factors_test, "codes_test")
    if x_tr.shape[1] != x_te.shape[1] or y_tr.shape[1] != y_te.shape[1]:
        raise ValueError(f"train and test disagree on D or K: codes {x_tr.shape} vs {x_te.shape}, factors {y_tr.shape} vs {y_te.shape}")
    num_codes, num_factors = x_tr.shape[1], y_tr.shape[1]
    r = np.zeros((num_codes, num_factors))
    info_tr, info_te = [], []
    if importance == "lasso":
        from sklearn.linear_model import Lasso

        x_tr, x_te = _standardise(x_tr, x_te)
        for k in range(num_factors):
            t_tr, t_te = _standardise(y_tr[:, k:k + 1].astype(np.float64), y_te[:, k:k + 1].astype(np.float64))
            model = Lasso(alpha=lasso_alpha, random_state=seed).fit(x_tr, t_tr[:, 0])
            r[:, k] = np.abs(model.coef_)
            for x, t, acc in ((x_tr, t_tr[:, 0], info_tr), (x_te, t_te[:, 0], info_te)):
                var = np.mean(t ** 2)
                acc.append(1.0 - np.mean((model.predict(x) - t) ** 2) / var if var > 0 else 0.0)
        return r, float(np.mean(info_tr)), float(np.mean(info_te))

    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    for k in range(num_factors):
        if len(np.unique(y_tr[:, k])) < 2:
            # Nothing to predict: no code matters, and any predictor is right.
            info_tr.append(1.0)
            info_te.append(float(np.mean(y_te[:, k] == y_tr[0, k])))
            continue
        if importance == "gbt":
            model = GradientBoostingClassifier(random_state=seed)
        else:
            model = RandomForestClassifier(n_estimators=10, random_state=seed)
        model.fit(x_tr, y_tr[:, k])
        r[:, k] = np.abs(model.feature_importances_)
        info_tr.append(float(np.mean(model.predict(x_tr) == y_tr[:, k])))
        info_te.append(float(np.mean(model.predict(x_te) == y_te[:, k])))
    return r, float(np.mean(info_tr)), float(np.mean(info_te))


def dci(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    importance: str = "gbt",
    *,
    seed: int = 0,
    lasso_alpha: float = 0.02,
) -> dict:
    """DCI scores of ``codes [N, D]`` against integer ``factors [N, K]`` (see module docstring).

    Returns ``{"disentanglement", "completeness", "informativeness_train", "informativeness_test"}``.
    `seed` is the sklearn ``random_state`` of the importance model.
    """
    r, info_tr, info_te = importance_matrix(codes_train, factors_train, codes_test, factors_test,
                                            importance, seed=seed, lasso_alpha=lasso_alpha)
    d, c = dci_from_importance(r)
    return {"disentanglement": d, "completeness": c, "informativeness_train": info_tr, "informativeness_test": info_te}


def dci_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    num_test: int = 5_000,
    importance: str = "gbt",
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`dci` on sampled codes: disentanglement_lib's protocol (10,000 train, 5,000 test, GBT)."""
    require_factors(dataset, "dci")
    if importance not in IMPORTANCE_MODELS:
        raise ValueError(f"unknown importance {importance!r}; allowed: {', '.join(IMPORTANCE_MODELS)}")
    k_tr, k_te, k_model = jax.random.split(key, 3)
    tr = sample_codes(k_tr, representation_fn, dataset, num_train, batch_size, progress, "dci train")
    te = sample_codes(k_te, representation_fn, dataset, num_test, batch_size, progress, "dci test")
    seed = int(jax.random.randint(k_model, (), 0, 2**31 - 1))
    return dci(*tr, *te, importance=importance, seed=seed)
