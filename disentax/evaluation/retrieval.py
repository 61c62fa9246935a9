"""How an embedding is judged in Ridgeway & Mozer (2018): retrieval of held-out identities, and how
well single dimensions predict single attribute values.

Host-side numpy on a few thousand embedded images: exact, and cheap next to the encoding.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata

__all__ = ["auc_per_dimension", "best_dimension_auc", "dimension_aucs", "nearest_neighbours", "recall_at_k"]


def nearest_neighbours(embeddings, k: int) -> np.ndarray:
    """[N, k] indices of each row's k nearest other rows (Euclidean), nearest first; ties in
    distance go to the lower index (a stable sort)."""
    z = np.asarray(embeddings, np.float64)
    sq = np.sum(z * z, 1)
    dist = sq[:, None] + sq[None, :] - 2 * z @ z.T
    np.fill_diagonal(dist, np.inf)  # a row is not its own neighbour
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


def recall_at_k(embeddings, labels, ks: Sequence[int] = (1, 2, 4, 8)) -> dict[int, float]:
    """Recall@k (Ridgeway & Mozer (2018), Sec. 2): the fraction of queries with an image of their
    own class among their k nearest neighbours (Euclidean) in the rest of the set.

    Every image is a query against all the others. A query whose class has no other member counts
    as a miss. Ties in distance go to the lower index (`nearest_neighbours`).
    Returns {k: recall} for each k.
    """
    z = np.asarray(embeddings, np.float64)
    y = np.asarray(labels)
    if z.ndim != 2 or y.shape != z.shape[:1]:
        raise ValueError(f"embeddings must be [N, D] and labels [N], got {z.shape} and {y.shape}")
    n = z.shape[0]
    ks = [int(k) for k in ks]
    if n < 2 or any(not 1 <= k < n for k in ks):
        raise ValueError(f"each k must be in [1, N - 1] = [1, {n - 1}], got {ks}")
    hit = y[nearest_neighbours(z, max(ks))] == y[:, None]  # [N, max k]
    first = np.where(hit.any(1), hit.argmax(1), max(ks))  # rank of the first same-class neighbour
    return {k: float(np.mean(first < k)) for k in ks}


def auc_per_dimension(embeddings, positive) -> np.ndarray:
    """ROC AUC of each embedding dimension as a score for the boolean `positive` [N]: [D].

    The Mann-Whitney form, AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊ n₋), with R₊ the sum of the positives'
    ranks and tied scores given their average rank (a tie counts one half).
    """
    z = np.asarray(embeddings, np.float64)
    pos = np.asarray(positive, bool)
    n_pos = int(pos.sum())
    n_neg = pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("an AUC needs both positive and negative examples")
    ranks = rankdata(z, axis=0)  # [N, D], average ranks for ties
    return (ranks[pos].sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def dimension_aucs(embeddings, factors, factor_names: Sequence[str],
                   factor_sizes: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """("factor=value" labels [V], max(AUC, 1 − AUC) [V, D]): how well each embedding dimension
    tells each attribute value from the other values of its attribute.

    `factors` [N, F] int holds the attributes named by `factor_names` (values 0..size−1). A
    dimension may order the value's images low as well as high, so each AUC is read as
    max(AUC, 1 − AUC) (Ridgeway & Mozer (2018) do not say; a dimension that puts the value at one
    end is aligned with it either way). A two-valued attribute has one non-redundant value and
    is scored once, as the paper counts its 17 values.
    """
    z = np.asarray(embeddings, np.float64)
    f = np.asarray(factors)
    if (f.ndim != 2 or f.shape[0] != z.shape[0] or f.shape[1] != len(factor_names)
            or len(factor_names) != len(factor_sizes)):
        raise ValueError(f"factors must be [N, {len(factor_names)}] for N = {z.shape[0]} embeddings, got {f.shape}")
    labels, rows = [], []
    for j, (name, size) in enumerate(zip(factor_names, factor_sizes)):
        for v in range(1 if int(size) == 2 else int(size)):
            auc = auc_per_dimension(z, f[:, j] == v)
            rows.append(np.maximum(auc, 1 - auc))
            labels.append(f"{name}={v}")
    return labels, np.array(rows)


def best_dimension_auc(embeddings, factors, factor_names: Sequence[str],
                       factor_sizes: Sequence[int]) -> dict[str, dict]:
    """Per attribute value, the AUC of the embedding dimension that best tells it from the other
    values of its attribute (Ridgeway & Mozer (2018), Sec. 3 and Fig. 3): the row maxima of
    `dimension_aucs`.

    Returns {"factor=value": {"auc": best, "dimension": its index}} in factor order.
    """
    labels, grid = dimension_aucs(embeddings, factors, factor_names, factor_sizes)
    best = grid.argmax(1)
    return {label: {"auc": float(grid[i, best[i]]), "dimension": int(best[i])} for i, label in enumerate(labels)}
