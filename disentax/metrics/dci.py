"""Disentanglement, completeness and informativeness (Eastwood & Williams 2018, "A Framework for the
Quantitative Evaluation of Disentangled Representations", Sec. 2).

One predictor per factor v_k from the codes c gives a matrix of relative importances R [D, K]
(R_dk = importance of code d for predicting factor k). Then, with P_dk = R_dk / sum_k R_dk and
P~_dk = R_dk / sum_d R_dk,

    D_d = 1 - H_K(P_d.),   disentanglement = sum_d rho_d D_d,   rho_d = sum_k R_dk / sum R,
    C_k = 1 - H_D(P~_.k),  completeness    = sum_k rho_k C_k,   rho_k = sum_d R_dk / sum R,

with entropies in base K (resp. D). Informativeness is the prediction quality of the predictors.

Averaging (``completeness=``): disentanglement is always the rho_d-weighted average, as in the paper
(Sec. 3 of the workshop text: "relative code variable importance ... is used to construct a
weighted average"; the tables' "W. Avg." column) and in disentanglement_lib. Completeness differs between the two:

* ``"weighted"`` (default) — disentanglement_lib's rho_k-weighted average above, what the
  large-scale studies (Locatello et al. 2019) report.
* ``"mean"`` — the plain mean (1/K) sum_k C_k, which is what Eastwood & Williams' Tables 1d and 2d
  print: e.g. random-forest completeness of c-InfoGAN, (0.63 + 0.97 + 0.95 + 0.92 + 0.96) / 5 =
  0.886 -> 0.89, and of c-PCA 0.382 -> 0.38; lasso 0.724 -> 0.72 and 0.38.

The two differ only when the factors' importance columns have different sums. The tree models'
importances (``"gbt"``, ``"random_forest"``, ``"lightgbm"``) are fractions summing to 1 for every
factor, so rho_k = 1/K and both give the same number, except that a factor nobody predicts (a
constant one, all-zero column) gets weight 0 in ``"weighted"`` and counts as C_k = 0 in ``"mean"``.
Lasso's |W| do not sum to 1, so there the choice matters, as it does for the paper's lasso table.

Importance models (``importance=``):

* ``"gbt"`` (default) — disentanglement_lib: one ``sklearn.ensemble.GradientBoostingClassifier``
  with default settings per factor, R = feature importances, informativeness = accuracy.
* ``"random_forest"`` — Eastwood & Williams' non-linear choice, also used by Esmaeili et al. 2019:
  ``RandomForestClassifier(n_estimators=10)`` (the paper's 10 trees; it tunes the
  other hyper-parameters on a validation set, we keep sklearn's defaults), informativeness =
  accuracy. Departure: the paper fits regressors to the factor values; we classify factor
  classes like disentanglement_lib's GBT so the informativeness numbers are comparable.
* ``"lightgbm"`` — a fast stand-in for ``"gbt"``: one LightGBM ``LGBMClassifier`` per factor with
  sklearn's GBT defaults mirrored (100 trees, learning rate 0.1, depth 3 = at most 8 leaves, no
  row or column subsampling, one sample per leaf, no L1/L2 leaf penalty; 1023 histogram bins,
  single-threaded, ``deterministic=True``). The importance of a code is sklearn's impurity
  importance recomputed on the LightGBM trees (:func:`lightgbm_impurity_importance`): for every
  split ``n_L n_R / n (g_L - g_R)^2`` with g the children's mean gradient, summed over all trees
  and normalised per factor. It agrees best with ``"gbt"`` among the importances we tried: on the
  four small cases of ``tests/test_metrics_fast.py`` |Delta D|, |Delta C| <= 0.013 (LightGBM's own
  ``"gain"``, the second-order gain G^2/H, normalised per factor: up to 0.095; ``"split"`` counts:
  up to 0.79, since the many tiny late splits on noise codes count as much as the first split),
  and at the full protocol (10,000 / 5,000 points, 10 codes, dSprites' factor sizes 3, 6, 40, 32,
  32) on four synthetic codes (perfect + 5 noise codes, pure noise, two latents rotated by 30
  degrees, latents with noise) Delta D, Delta C = -0.007/-0.008, 0.000/+0.001, +0.027/+0.034,
  -0.008/-0.006 (gain on the rotated code: +0.037/+0.050), informativeness within 0.006 on test
  points and 0.014 on training points. The remaining gap comes from the trees themselves:
  LightGBM picks splits by Newton gain, sklearn by Friedman's first-order criterion, and bins the
  codes. Speed (``benchmarks/metrics.py``, 2-core CPU, untrained encoder, one run): 23.1 s
  against 441 s for the sklearn GBT fitted factor after factor on one thread as disentanglement_lib
  does (19x), sampling and encoding the 15,000 codes (10.6 s of each) included; on the codes alone
  12.5 s against 431 s (35x). With the factors on two threads ``"gbt"`` itself takes 257 s.
  ``"gbt"`` stays the default because published numbers
  (disentanglement_lib, Locatello et al. 2019) were computed with it, and a gap of a few
  hundredths is the size of the differences between models that those tables compare. Needs
  ``pip install lightgbm`` (the ``fast`` extra).
* ``"lasso"`` — Eastwood & Williams' linear choice: codes and factor values standardised
  (train statistics), ``sklearn.linear_model.Lasso(alpha=lasso_alpha)``, R = |weights|.
  Informativeness here is R^2 = 1 - NRMSE^2 on the standardised factor (the paper reports NRMSE;
  R^2 keeps "higher is better" like the classifiers).

disentanglement_lib's conventions kept: probabilities get ``+1e-11`` before the entropies, and an
all-zero importance matrix (e.g. constant codes) counts as uniform, scoring 0.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import jax
import numpy as np

from disentax.metrics.utils import check_codes_factors, require_factors, sample_codes

__all__ = [
    "COMPLETENESS_MODES",
    "IMPORTANCE_MODELS",
    "dci",
    "dci_from_importance",
    "dci_score",
    "importance_matrix",
    "lightgbm_impurity_importance",
]

IMPORTANCE_MODELS = ("gbt", "random_forest", "lasso", "lightgbm")
COMPLETENESS_MODES = ("weighted", "mean")


def _entropy(p: np.ndarray, base: int, axis: int) -> np.ndarray:
    p = p / p.sum(axis=axis, keepdims=True)
    return -np.sum(p * np.log(p), axis=axis) / np.log(base)


def _check_completeness(completeness: str) -> None:
    if completeness not in COMPLETENESS_MODES:
        raise ValueError(f"unknown completeness {completeness!r}; allowed: {', '.join(COMPLETENESS_MODES)}")


def dci_from_importance(importance: Any, completeness: str = "weighted") -> tuple[float, float]:
    """(disentanglement, completeness) from a non-negative importance matrix ``[D, K]``
    (Eastwood & Williams 2018): D = sum_d rho_d (1 - H_K(P_d.)), C = sum_k w_k (1 - H_D(P~_.k)).

    w_k = rho_k = sum_d R_dk / sum R for ``completeness="weighted"`` (disentanglement_lib), w_k = 1/K
    for ``"mean"`` (the paper's tables); see the module docstring. With one factor (K = 1) every
    code is trivially disentangled; with one code (D = 1) every factor is trivially complete
    (entropy base 1 is undefined, the score is 1).
    """
    _check_completeness(completeness)
    r = np.abs(np.asarray(importance, dtype=np.float64))
    if r.ndim != 2:
        raise ValueError(f"importance matrix must be [D, K], got shape {r.shape}")
    num_codes, num_factors = r.shape
    per_code = 1.0 - _entropy(r + 1e-11, num_factors, axis=1) if num_factors > 1 else np.ones(num_codes)
    per_factor = 1.0 - _entropy(r + 1e-11, num_codes, axis=0) if num_codes > 1 else np.ones(num_factors)
    weights = r if r.sum() > 0 else np.ones_like(r)
    code_weight = weights.sum(axis=1) / weights.sum()
    factor_weight = weights.sum(axis=0) / weights.sum() if completeness == "weighted" else np.full(num_factors, 1.0 / num_factors)
    return float(np.sum(per_code * code_weight)), float(np.sum(per_factor * factor_weight))


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant column stays constant (0), not NaN
    return (train - mean) / std, (test - mean) / std


def _lightgbm_classifier(seed: int):
    try:
        import lightgbm
    except ImportError:
        raise ImportError("importance='lightgbm' needs LightGBM: pip install lightgbm") from None
    # sklearn's GradientBoostingClassifier defaults in LightGBM's terms. min_child_weight (a floor on
    # a leaf's Hessian sum) has no sklearn counterpart, hence ~0. sklearn tries every threshold;
    # 1023 histogram bins of one example or more come closer to that than LightGBM's 255 (|dD| 0.027
    # against 0.035 at the full protocol) for ~1.3x the time; 4095 gained 0.005 more for 2.5x.
    return lightgbm.LGBMClassifier(
        n_estimators=100, learning_rate=0.1, max_depth=3, num_leaves=8, subsample=1.0, subsample_freq=0,
        colsample_bytree=1.0, min_child_samples=1, min_child_weight=1e-12, min_split_gain=0.0, reg_alpha=0.0,
        reg_lambda=0.0, max_bin=1023, min_data_in_bin=1, random_state=seed, n_jobs=1, deterministic=True,
        force_row_wise=True, verbose=-1,
    )


def _node_stats(node: dict) -> tuple[float, float, int]:
    if "split_feature" in node:
        return node["internal_value"], node["internal_weight"], node["internal_count"]
    return node["leaf_value"], node["leaf_weight"], node["leaf_count"]


def lightgbm_impurity_importance(model: Any, num_codes: int) -> np.ndarray:
    """sklearn-style impurity importances ``[D]`` of a fitted LightGBM model, summing to 1 (or all 0).

    sklearn's ``feature_importances_`` for gradient boosting adds, over every split of every tree,
    the decrease of the squared error of the tree's targets (the gradients g):
    ``n_L n_R / n (mean_L g - mean_R g)^2`` (Friedman 2001's criterion). A LightGBM node's output
    is ``-lr * sum g / sum h`` and its dump carries ``sum h``, so ``mean g`` is
    ``-output * sum h / (lr * n)``; the constant lr cancels in the normalisation. The first
    iteration's trees also carry the initial score, but there every example has the same Hessian,
    so that offset cancels in ``mean_L g - mean_R g``.
    """
    total = np.zeros(int(num_codes))

    def walk(node: dict) -> None:
        if "split_feature" not in node:
            return
        (v_l, h_l, n_l), (v_r, h_r, n_r) = _node_stats(node["left_child"]), _node_stats(node["right_child"])
        if n_l > 0 and n_r > 0:
            total[node["split_feature"]] += n_l * n_r / (n_l + n_r) * (v_l * h_l / n_l - v_r * h_r / n_r) ** 2
        walk(node["left_child"])
        walk(node["right_child"])

    for tree in model.booster_.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return total / total.sum() if total.sum() > 0 else total


def importance_matrix(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    importance: str = "gbt",
    *,
    seed: int = 0,
    lasso_alpha: float = 0.02,
    workers: int | None = None,
) -> tuple[np.ndarray, float, float]:
    """``(R [D, K], informativeness_train, informativeness_test)`` with the chosen importance model.

    R_dk is the importance of code d in the model predicting factor k (Eastwood & Williams 2018);
    the models are listed in the module docstring. Informativeness is the mean over factors of the
    accuracy (R^2 for ``"lasso"``) on the training and on the test rows. The tree models of the K
    factors are fitted on `workers` threads (default: one per CPU); each model is single-threaded,
    so the result does not depend on `workers`.
    """
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

    if importance == "lightgbm":
        _lightgbm_classifier(seed)  # fail before any fitting when LightGBM is missing

    def fit_factor(k: int) -> tuple[np.ndarray, float, float]:
        if len(np.unique(y_tr[:, k])) < 2:
            # Nothing to predict: no code matters, and any predictor is right.
            return np.zeros(num_codes), 1.0, float(np.mean(y_te[:, k] == y_tr[0, k]))
        model = _tree_model(importance, seed)
        model.fit(x_tr, y_tr[:, k])
        if importance == "lightgbm":
            r_k = lightgbm_impurity_importance(model, num_codes)
        else:
            r_k = np.abs(model.feature_importances_)
        # One predict call for both splits: a LightGBM/sklearn call has a fixed cost per tree.
        pred = model.predict(np.concatenate([x_tr, x_te]))
        return r_k, float(np.mean(pred[:len(x_tr)] == y_tr[:, k])), float(np.mean(pred[len(x_tr):] == y_te[:, k]))

    # Each factor's model is independent and single-threaded, so fitting them on parallel threads
    # (LightGBM and sklearn's tree builder release the GIL) gives the same numbers for any `workers`.
    # The largest factors start first: with K ~ 5 uneven factors that is what bounds the wall time.
    order = sorted(range(num_factors), key=lambda k: -len(np.unique(y_tr[:, k])))
    workers = _num_workers(workers, num_factors)
    if workers == 1:
        fitted = {k: fit_factor(k) for k in order}
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            fitted = dict(zip(order, pool.map(fit_factor, order)))
    for k in range(num_factors):
        r[:, k], acc_tr, acc_te = fitted[k]
        info_tr.append(acc_tr)
        info_te.append(acc_te)
    return r, float(np.mean(info_tr)), float(np.mean(info_te))


def _num_workers(workers: int | None, num_factors: int) -> int:
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1 (or None for one per CPU), got {workers}")
    return max(1, min(int(workers), num_factors))


def _tree_model(importance: str, seed: int):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    if importance == "gbt":
        return GradientBoostingClassifier(random_state=seed)
    if importance == "lightgbm":
        return _lightgbm_classifier(seed)
    return RandomForestClassifier(n_estimators=10, random_state=seed)


def dci(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    importance: str = "gbt",
    *,
    seed: int = 0,
    lasso_alpha: float = 0.02,
    completeness: str = "weighted",
    workers: int | None = None,
) -> dict:
    """DCI scores of ``codes [N, D]`` against integer ``factors [N, K]`` (Eastwood & Williams 2018;
    equations in the module docstring).

    Returns ``{"disentanglement", "completeness", "informativeness_train", "informativeness_test"}``.
    `seed` is the ``random_state`` of the importance model; `completeness` is ``"weighted"``
    (disentanglement_lib) or ``"mean"`` (the paper's tables); `workers` threads fit the factors'
    models (default one per CPU; the scores do not depend on it).
    """
    _check_completeness(completeness)
    r, info_tr, info_te = importance_matrix(codes_train, factors_train, codes_test, factors_test,
                                            importance, seed=seed, lasso_alpha=lasso_alpha, workers=workers)
    d, c = dci_from_importance(r, completeness)
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
    completeness: str = "weighted",
    workers: int | None = None,
) -> dict:
    """:func:`dci` on sampled codes: disentanglement_lib's protocol (10,000 train, 5,000 test, GBT).

    ``importance="lightgbm"`` runs the same protocol with the fast LightGBM stand-in for the GBT.
    """
    require_factors(dataset, "dci")
    if importance not in IMPORTANCE_MODELS:
        raise ValueError(f"unknown importance {importance!r}; allowed: {', '.join(IMPORTANCE_MODELS)}")
    _check_completeness(completeness)
    k_tr, k_te, k_model = jax.random.split(key, 3)
    tr = sample_codes(k_tr, representation_fn, dataset, num_train, batch_size, progress, "dci train")
    te = sample_codes(k_te, representation_fn, dataset, num_test, batch_size, progress, "dci test")
    seed = int(jax.random.randint(k_model, (), 0, 2**31 - 1))
    return dci(*tr, *te, importance=importance, seed=seed, completeness=completeness, workers=workers)
