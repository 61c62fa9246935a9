"""Separated Attribute Predictability (Kumar, Sattigeri & Balakrishnan 2018, "Variational Inference
of Disentangled Latent Concepts from Unlabeled Observations", Sec. 3).

A score matrix S [D, K] says how well code d alone predicts factor k; SAP is the mean over factors
of the gap between the two best codes, ``SAP = (1/K) sum_k (S_(1)k - S_(2)k)``.

Following disentanglement_lib (``sap_score``, ``continuous_factors=False`` by default):

* discrete factors: S_dk = test accuracy of ``sklearn.svm.LinearSVC(C=0.01,
  class_weight="balanced")`` fitted on the single column d of the training codes. The best
  possible gap is therefore 1 - (accuracy of an uninformative code), e.g. 1/2 for a balanced
  binary factor, and a one-dimensional linear one-vs-rest classifier cannot separate the middle
  classes of a factor with many values, so SAP < 1 even for the factors themselves;
* continuous factors: S_dk = R^2 of a linear fit of factor k on code d (squared Pearson
  correlation) on the training set; a code with variance < 1e-12 scores 0.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from disentax.metrics.utils import check_codes_factors, require_factors, sample_codes

__all__ = ["sap", "sap_matrix", "sap_score"]


def sap_matrix(codes_train, factors_train, codes_test, factors_test, continuous_factors: bool = False) -> np.ndarray:
    """Score matrix ``S [D, K]`` (see module docstring)."""
    x_tr, y_tr = check_codes_factors(codes_train, factors_train, "codes_train")
    x_te, y_te = check_codes_factors(codes_test, factors_test, "codes_test")
    num_codes, num_factors = x_tr.shape[1], y_tr.shape[1]
    s = np.zeros((num_codes, num_factors))
    if continuous_factors:
        for d in range(num_codes):
            for k in range(num_factors):
                cov = np.cov(x_tr[:, d], y_tr[:, k].astype(np.float64), ddof=1)
                if cov[0, 0] > 1e-12 and cov[1, 1] > 0:
                    s[d, k] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
        return s
    from sklearn.svm import LinearSVC

    for k in range(num_factors):
        labels = np.unique(y_tr[:, k])
        for d in range(num_codes):
            if len(labels) < 2:
                pred = np.full(len(y_te), labels[0])
            else:
                clf = LinearSVC(C=0.01, class_weight="balanced").fit(x_tr[:, d:d + 1], y_tr[:, k])
                pred = clf.predict(x_te[:, d:d + 1])
            s[d, k] = np.mean(pred == y_te[:, k])
    return s


def sap(codes_train: Any, factors_train: Any, codes_test: Any, factors_test: Any, continuous_factors: bool = False) -> float:
    """SAP score of ``codes [N, D]`` against integer ``factors [N, K]``; needs D >= 2."""
    s = sap_matrix(codes_train, factors_train, codes_test, factors_test, continuous_factors)
    if s.shape[0] < 2:
        raise ValueError(f"SAP needs at least 2 code dimensions, got {s.shape[0]}")
    top = np.sort(s, axis=0)
    return float(np.mean(top[-1] - top[-2]))


def sap_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    num_test: int = 5_000,
    continuous_factors: bool = False,
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`sap` on sampled codes, disentanglement_lib's protocol (10,000 train, 5,000 test)."""
    require_factors(dataset, "sap")
    k_tr, k_te = jax.random.split(key)
    tr = sample_codes(k_tr, representation_fn, dataset, num_train, batch_size, progress, "sap train")
    te = sample_codes(k_te, representation_fn, dataset, num_test, batch_size, progress, "sap test")
    return {"sap": sap(*tr, *te, continuous_factors=continuous_factors)}
