"""Downstream-task performance of a representation (Locatello et al. 2019, "Challenging Common
Assumptions in the Unsupervised Learning of Disentangled Representations": do disentangled codes
make later learning cheaper?), disentanglement_lib's ``downstream_task`` protocol.

For every training-set size n in ``sizes`` (default 10, 100, 1,000, 10,000) and every factor k, one
classifier predicts the class of v_k from the codes, trained on n points and tested on
``num_test = 5,000`` others; the score is the accuracy

    acc_k(n) = (1 / N_test) Σ_i [f_k(z_i) = v_ik],   mean_acc(n) = (1/K) Σ_k acc_k(n),

reported on the training and test points, with the minimum over factors too.

Classifiers (``models=``):

* ``"logistic_cv"`` — disentanglement_lib's ``logistic_regression_cv``: sklearn
  ``LogisticRegressionCV`` with 10 inverse regularisation strengths C on a log grid 1e-4..1e4
  (``Cs=10``), chosen by 5-fold unshuffled cross-validated accuracy, L2 penalty, lbfgs with its
  default 100 iterations on the raw codes (no scaling). Kept rather than a fixed-C
  ``LogisticRegression`` because the C that suits 10 points differs from the one that suits
  10,000, and cross-validating it is what the published numbers did. Convergence warnings are
  silenced: with the default iteration cap lbfgs often stops early on unscaled codes, which is part
  of the protocol.
* ``"gbt"`` — disentanglement_lib's ``gradient_boosting_classifier``: sklearn
  ``GradientBoostingClassifier`` with its defaults.
* ``"lightgbm"`` — the fast stand-in for ``"gbt"`` used by :func:`~disentax.metrics.dci` (same
  pinned parameters; ``pip install lightgbm``).

Departure: disentanglement_lib draws fresh training and test points for every size; here the
training sets are nested prefixes of one draw of max(sizes) points, tested on one shared test set.
Each size's scores have the same distribution; the curve over sizes is merely less noisy.
A factor with one class in the training points is predicted as that class.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import jax
import numpy as np

from disentax.metrics.dci import _lightgbm_classifier
from disentax.metrics.utils import check_codes_factors, require_factors, sample_codes

__all__ = ["DOWNSTREAM_MODELS", "DOWNSTREAM_SIZES", "downstream_task", "downstream_task_score"]

DOWNSTREAM_MODELS = ("logistic_cv", "gbt", "lightgbm")
DOWNSTREAM_SIZES = (10, 100, 1000, 10000)


def _classifier(model: str, seed: int, num_train: int):
    if model == "logistic_cv":
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.model_selection import KFold

        return LogisticRegressionCV(Cs=10, cv=KFold(n_splits=min(5, num_train)), l1_ratios=(0.0,), scoring="accuracy",
                                    solver="lbfgs", max_iter=100, tol=1e-4, random_state=seed,
                                    use_legacy_attributes=False)
    if model == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(random_state=seed)
    return _lightgbm_classifier(seed)


def _check_models(models: Sequence[str] | str) -> tuple[str, ...]:
    models = (models,) if isinstance(models, str) else tuple(models)
    bad = [m for m in models if m not in DOWNSTREAM_MODELS]
    if not models or bad:
        raise ValueError(f"unknown downstream model {bad[0] if bad else None!r}; allowed: {', '.join(DOWNSTREAM_MODELS)}")
    return models


def _check_sizes(sizes: Sequence[int] | int) -> tuple[int, ...]:
    sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
    if not sizes or any(int(n) != n or int(n) < 2 for n in sizes):
        raise ValueError(f"sizes must be integers >= 2 (training points per classifier), got {sizes}")
    return tuple(int(n) for n in sizes)


def downstream_task(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    sizes: Sequence[int] | int = DOWNSTREAM_SIZES,
    models: Sequence[str] | str = ("logistic_cv", "gbt"),
    *,
    seed: int = 0,
) -> dict:
    """Per-factor accuracy acc_k(n) = (1/N) Σ_i [f_k^(n)(z_i) = v_ik] of classifiers f_k^(n) fit on
    the first n rows of the training codes, for each n in `sizes`, on the test rows and on those n
    training rows (Locatello et al. 2019's downstream task; details in the module docstring).

    Returns a flat dict of floats keyed ``"{model}/{n}:{stat}"`` with stat in
    ``mean_train_accuracy``, ``mean_test_accuracy``, ``min_train_accuracy``,
    ``min_test_accuracy``, ``train_accuracy_factor_{k}``, ``test_accuracy_factor_{k}``
    (disentanglement_lib's names after the model prefix). `seed` is every classifier's
    ``random_state``, so the same inputs give the same numbers.
    """
    x_tr, y_tr = check_codes_factors(codes_train, factors_train, "codes_train")
    x_te, y_te = check_codes_factors(codes_test, factors_test, "codes_test")
    if x_tr.shape[1] != x_te.shape[1] or y_tr.shape[1] != y_te.shape[1]:
        raise ValueError(f"train and test disagree on D or K: codes {x_tr.shape} vs {x_te.shape}, factors {y_tr.shape} vs {y_te.shape}")
    models, sizes = _check_models(models), _check_sizes(sizes)
    if max(sizes) > x_tr.shape[0]:
        raise ValueError(f"sizes go up to {max(sizes)} but there are only {x_tr.shape[0]} training rows")
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    out = {}
    for model in models:
        for n in sizes:
            acc_tr, acc_te = [], []
            for k in range(y_tr.shape[1]):
                x, y = x_tr[:n], y_tr[:n, k]
                if len(np.unique(y)) < 2:
                    acc_tr.append(1.0)
                    acc_te.append(float(np.mean(y_te[:, k] == y[0])))
                    continue
                clf = _classifier(model, seed, n)
                # One BLAS thread: these are tiny problems, where thread start-up (and, on a shared
                # machine, spinning threads) cost several times the work, and the numbers cannot
                # then depend on how many cores the machine has.
                with warnings.catch_warnings(), threadpool_limits(limits=1):
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    clf.fit(x, y)
                    acc_tr.append(float(np.mean(clf.predict(x) == y)))
                    acc_te.append(float(np.mean(clf.predict(x_te) == y_te[:, k])))
            prefix = f"{model}/{n}:"
            out[prefix + "mean_train_accuracy"] = float(np.mean(acc_tr))
            out[prefix + "mean_test_accuracy"] = float(np.mean(acc_te))
            out[prefix + "min_train_accuracy"] = float(np.min(acc_tr))
            out[prefix + "min_test_accuracy"] = float(np.min(acc_te))
            for k, (a_tr, a_te) in enumerate(zip(acc_tr, acc_te)):
                out[prefix + f"train_accuracy_factor_{k}"] = a_tr
                out[prefix + f"test_accuracy_factor_{k}"] = a_te
    return out


def downstream_task_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    sizes: Sequence[int] | int = DOWNSTREAM_SIZES,
    num_test: int = 5_000,
    models: Sequence[str] | str = ("logistic_cv", "gbt"),
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`downstream_task` on codes sampled from `dataset`: max(sizes) training and `num_test`
    test points (disentanglement_lib's protocol: sizes 10, 100, 1,000, 10,000 and 5,000 test points).
    """
    require_factors(dataset, "downstream_task")
    models, sizes = _check_models(models), _check_sizes(sizes)
    k_tr, k_te, k_model = jax.random.split(key, 3)
    tr = sample_codes(k_tr, representation_fn, dataset, max(sizes), batch_size, progress, "downstream train")
    te = sample_codes(k_te, representation_fn, dataset, num_test, batch_size, progress, "downstream test")
    seed = int(jax.random.randint(k_model, (), 0, 2**31 - 1))
    return downstream_task(*tr, *te, sizes=sizes, models=models, seed=seed)
