"""Clustering accuracy of a discrete code against class labels.

Unsupervised accuracy (used by Anonymous 2019, "Explicit Information Placement on Latent Variables
using Auxiliary Generative Modelling Task", for a categorical latent with more values than classes):
each cluster c is mapped to a label and the accuracy of the mapped predictions is reported.

* ``one_to_one=False`` (default): many-to-one, every cluster takes its most frequent label,
  ``acc = (1/N) sum_c max_y n_{c,y}``; several clusters may share a label, so over-clustering is
  allowed (and N singleton clusters would score 1).
* ``one_to_one=True``: the Hungarian matching of clusters to labels maximising the matched count
  (``scipy.optimize.linear_sum_assignment``); with more clusters than labels the unmatched
  clusters count as errors.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["clustering_accuracy", "contingency"]


def contingency(pred: Any, labels: Any) -> np.ndarray:
    """Counts ``n[c, y]`` of examples in cluster c (rows in sorted order of cluster ids) with label y."""
    pred, labels = np.asarray(pred).reshape(-1), np.asarray(labels).reshape(-1)
    if pred.shape != labels.shape:
        raise ValueError(f"pred and labels must have the same length, got {pred.shape[0]} and {labels.shape[0]}")
    if pred.size == 0:
        raise ValueError("clustering_accuracy needs at least one example")
    _, c = np.unique(pred, return_inverse=True)
    _, y = np.unique(labels, return_inverse=True)
    c, y = c.reshape(-1), y.reshape(-1)
    table = np.zeros((c.max() + 1, y.max() + 1), dtype=np.int64)
    np.add.at(table, (c, y), 1)
    return table


def clustering_accuracy(pred: Any, labels: Any, one_to_one: bool = False) -> float:
    """Accuracy of cluster ids `pred` [N] against class `labels` [N] (see module docstring)."""
    table = contingency(pred, labels)
    n = table.sum()
    if not one_to_one:
        return float(table.max(axis=1).sum() / n)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / n)
