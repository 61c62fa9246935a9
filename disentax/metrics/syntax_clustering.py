"""Syntax clustering error of sentence representations (Brunner et al. (2018), Sec. 4.1, Table 2).

Brunner et al. encode sentences of 14 syntactic categories (13 templates filled with random words,
plus the empty sentence; `disentax.data.text.syntax_prototypes` makes them), cluster the codes with
K-means (K = 14), give each cluster the category most of its members belong to, and count the
members of other categories as errors. The sum over clusters is the clustering error; K-means
depends on its initialisation, so the best of 100 runs is reported. A representation whose geometry
follows syntax scores near 0; the paper reports 149 for a reconstruction-only autoencoder against
22 with a translation decoder and 3 with translation plus part-of-speech tagging.

The error of one clustering is ``N - sum_c max_y n_{c,y}`` with ``n_{c,y}`` the number of examples
of category y in cluster c: N times one minus the many-to-one accuracy of
:func:`disentax.metrics.clustering_accuracy`.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from disentax.metrics.clustering import contingency

__all__ = ["assignment_error", "clustering_error"]


def assignment_error(clusters: Any, labels: Any) -> int:
    """Clustering error of fixed cluster ids `clusters` [N] against categories `labels` [N].

    Brunner et al. (2018), Sec. 4.1: each cluster c is assigned its majority category, and every
    member of another category is an error: ``E = sum_c (n_c - max_y n_{c,y})``. Ties in the
    majority do not change E (only the count matters).
    """
    table = contingency(clusters, labels)
    return int(table.sum() - table.max(axis=1).sum())


def clustering_error(codes: Any, labels: Any, k: int = 14, runs: int = 100, seed: int = 0) -> dict:
    """Best-of-`runs` K-means clustering error of `codes` [N, D] against categories `labels` [N].

    Brunner et al. (2018), Sec. 4.1: K-means with K = `k` clusters on the codes, the error
    ``E = sum_c (n_c - max_y n_{c,y})`` of each clustering (:func:`assignment_error`), repeated
    `runs` times; the paper reports the minimum over 100 runs with K = 14.

    Choices where the paper is silent: each run is one scikit-learn K-means (k-means++ seeding,
    Lloyd iterations to sklearn's default tolerance, ``n_init=1``, so a run is one initialisation as
    the paper's "run the algorithm 100 times" reads); run r uses ``random_state`` the r-th word of
    ``numpy.random.SeedSequence(seed)``, so runs differ and the first m runs of a call are the runs
    of a call with ``runs=m``. Codes are clustered as given (no standardisation), in float64.

    Returns ``dict(best=int, mean=float, errors=list[int])``, `errors` one per run in run order.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2:
        raise ValueError(f"clustering_error: codes must be [N, D], got shape {codes.shape}")
    if labels.shape != (codes.shape[0],):
        raise ValueError(f"clustering_error: labels must be [N] = [{codes.shape[0]}], got shape {labels.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("clustering_error: codes must be finite (found NaN or inf)")
    k, runs = int(k), int(runs)
    if not 1 <= k <= codes.shape[0]:
        raise ValueError(f"clustering_error: k must be in [1, N = {codes.shape[0]}], got {k}")
    if runs < 1:
        raise ValueError(f"clustering_error: runs must be >= 1, got {runs}")
    states = np.random.SeedSequence(int(seed)).generate_state(runs)
    errors = []
    for state in states:
        with warnings.catch_warnings():
            # Repeated codes (the empty sentences all encode alike) can leave fewer distinct points than
            # k; sklearn warns and still returns a clustering, whose error is what is wanted.
            warnings.simplefilter("ignore", ConvergenceWarning)
            clusters = KMeans(n_clusters=k, n_init=1, random_state=int(state)).fit_predict(codes)
        errors.append(assignment_error(clusters, labels))
    return {"best": int(min(errors)), "mean": float(np.mean(errors)), "errors": errors}
