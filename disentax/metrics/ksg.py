"""Kraskov-Stögbauer-Grassberger (KSG) mutual information, and Whitney & Fergus's factor-transition scores.

The KSG estimators (Kraskov, Stögbauer & Grassberger 2004, "Estimating mutual information", Phys.
Rev. E 69, 066138) estimate I(X; Y) in nats from N samples of continuous X [dx] and Y [dy] through
k-nearest-neighbour distances. Distances are max-norms, in the joint space
||(x, y)|| = max(||x||_inf, ||y||_inf). With psi the digamma function, for each point i:

* estimator 1: eps_i/2 is the distance from i to its k-th neighbour in the joint space, n_x(i) the
  number of points j != i with ||x_j - x_i|| < eps_i/2 (strictly), n_y(i) likewise, and

      I1 = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >;

* estimator 2: eps_x(i)/2 and eps_y(i)/2 are the extents, in X and in Y, of the box holding i's k
  joint neighbours (the largest ||x_j - x_i|| over those k points), n_x(i) the number of points
  j != i with ||x_j - x_i|| <= eps_x(i)/2, and

      I2 = psi(k) - 1/k + psi(N) - < psi(n_x) + psi(n_y) >.

Both are exact (zero bias) for independent X and Y up to O(1/N) effects and, being built on local
neighbourhoods, nearly invariant under smooth invertible maps of X and of Y; they are not exactly
invariant, because such a map changes which points are nearest. Kraskov et al. add a tiny noise to
break ties between equal values (the counts assume distinct distances); ``noise`` does that here.

Whitney & Fergus (2018, "Disentangling video with independent prediction", App. B, Sec. 3.1) use
the KSG estimator to check that a latent factor z^i evolves from its own past only: they compare
I(z^i_{t+1}; z^i_t) (same factor) with I(z^i_{t+1}; z^j_t), j != i (cross factor), averaged over
factors (:func:`partitioned_mutual_information`). For a model without factors they draw 20 random
partitions of the latent units into k factors and report the one with the largest same - cross gap
(:func:`best_random_partition`). The paper does not say which KSG estimator, k or units it used;
the defaults here are estimator 1, k = 3 (Kraskov et al.'s recommendation of a small k for low
bias), nats.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

__all__ = [
    "best_random_partition",
    "consecutive_partition",
    "ksg_mutual_information",
    "partitioned_mutual_information",
    "transition_pairs",
]

ESTIMATORS = (1, 2)


def _columns(a: Any, name: str) -> np.ndarray:
    """``a`` as float64 ``[N, d]`` (a 1-d array is one column), finite."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape [N] or [N, d] with d >= 1, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _check_settings(n: int, k: Any, estimator: Any, noise: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (the number of neighbours), got {k!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS} (Kraskov et al.'s two estimators), got {estimator!r}")
    if n <= k:
        raise ValueError(f"KSG needs more samples than neighbours: N = {n} must be > k = {k}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0 (relative to each column's scale), got {noise!r}")


def _jitter(a: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``noise`` x (column scale) x N(0, 1); the scale is the column's std, else |max|, else 1."""
    if noise == 0:
        return a
    scale = a.std(axis=0)
    absmax = np.abs(a).max(axis=0)
    scale = np.where(scale > 0, scale, np.where(absmax > 0, absmax, 1.0))
    return a + noise * scale * rng.standard_normal(a.shape)


def _count_within(tree: cKDTree, points: np.ndarray, radius: np.ndarray, strict: bool) -> np.ndarray:
    """Number of tree points j != i with ||p_j - p_i||_inf < radius_i (strict) or <= radius_i.

    The tree counts with <=; a strict count shrinks each radius to the next float below it, which
    is exact because both sides of the comparison are the same float differences. Self is in the
    tree at distance 0 and is subtracted.
    """
    r = np.nextafter(radius, -np.inf) if strict else radius
    inside = tree.query_ball_point(points, np.maximum(r, 0.0), p=np.inf, return_length=True)
    counts = np.asarray(inside, dtype=np.int64) - 1
    if strict:
        # A zero radius holds no point strictly inside, not even the duplicates counted by <= 0.
        counts = np.where(radius > 0, counts, 0)
    return counts


def _ksg(x: np.ndarray, y: np.ndarray, k: int, estimator: int,
         tree_x: cKDTree | None = None, tree_y: cKDTree | None = None) -> float:
    """The KSG estimate for checked, already jittered ``x [N, dx]`` and ``y [N, dy]``."""
    n = x.shape[0]
    tree_x = cKDTree(x) if tree_x is None else tree_x
    tree_y = cKDTree(y) if tree_y is None else tree_y
    joint = np.hstack([x, y])
    # k + 1 neighbours: the point itself is always among them (distance 0), so the last distance is
    # that of the k-th other point even when duplicates make self come back in another position.
    dist, idx = cKDTree(joint).query(joint, k=k + 1, p=np.inf)
    if estimator == 1:
        eps = dist[:, k]
        n_x = _count_within(tree_x, x, eps, strict=True)
        n_y = _count_within(tree_y, y, eps, strict=True)
        return float(digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))
    # The box's marginal extents over the k neighbours; self, if returned, adds a distance of 0.
    eps_x = np.abs(x[idx] - x[:, None, :]).max(axis=(1, 2))
    eps_y = np.abs(y[idx] - y[:, None, :]).max(axis=(1, 2))
    n_x = _count_within(tree_x, x, eps_x, strict=False)
    n_y = _count_within(tree_y, y, eps_y, strict=False)
    return float(digamma(k) - 1.0 / k + digamma(n) - np.mean(digamma(n_x) + digamma(n_y)))


def ksg_mutual_information(x: Any, y: Any, k: int = 3, estimator: int = 1, noise: float = 1e-10,
                           seed: int = 0) -> float:
    """Kraskov et al. (2004)'s k-nearest-neighbour estimate of I(X; Y) in nats.

    With max-norm distances, eps_i/2 the joint distance from sample i to its k-th neighbour and
    psi the digamma function:

      * ``estimator=1``: I = psi(k) + psi(N) - <psi(n_x + 1) + psi(n_y + 1)>, n_x(i) the number of
        j != i with ||x_j - x_i|| < eps_i/2 (and n_y likewise);
      * ``estimator=2``: I = psi(k) - 1/k + psi(N) - <psi(n_x) + psi(n_y)>, n_x(i) the number of
        j != i with ||x_j - x_i|| <= eps_x(i)/2, the X-extent of i's k joint neighbours.

    Estimates can be slightly negative for independent variables; they are not clipped.

    Args:
      x: ``[N, dx]`` samples (``[N]`` is one column).
      y: ``[N, dy]`` samples paired with ``x``.
      k: neighbours (Kraskov et al. suggest 2-4: smaller k, less bias, more variance).
      estimator: 1 or 2, as above.
      noise: each column gets ``noise`` x its standard deviation x N(0, 1) added to break ties
        (Kraskov et al.'s advice for data with repeated values); 0 turns it off.
      seed: seed of the numpy generator that draws that noise.
    """
    x, y = _columns(x, "x"), _columns(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of samples N, got {x.shape[0]} and {y.shape[0]}")
    _check_settings(x.shape[0], k, estimator, noise)
    rng = np.random.default_rng(seed)
    x = _jitter(x, noise, rng)
    y = _jitter(y, noise, rng)
    return _ksg(x, y, int(k), estimator)


def transition_pairs(codes: Any) -> tuple[np.ndarray, np.ndarray]:
    """Codes of sequences ``[N, T, D]`` -> ``(z_t, z_next)``, each ``[N (T - 1), D]``: every (t, t+1) pair."""
    codes = np.asarray(codes)
    if codes.ndim != 3 or codes.shape[1] < 2:
        raise ValueError(f"codes must have shape [N, T, D] with T >= 2 time steps, got {codes.shape}")
    n, t, d = codes.shape
    return codes[:, :-1].reshape(n * (t - 1), d), codes[:, 1:].reshape(n * (t - 1), d)


def consecutive_partition(num_units: int, num_factors: int) -> tuple[tuple[int, ...], ...]:
    """Units ``0 .. num_units - 1`` cut into ``num_factors`` consecutive blocks of equal size
    (sizes differ by at most one when ``num_units`` is not a multiple of ``num_factors``)."""
    _check_num_factors(num_units, num_factors)
    return tuple(tuple(int(u) for u in b) for b in np.array_split(np.arange(num_units), num_factors))


def _check_num_factors(num_units: int, num_factors: Any) -> None:
    if isinstance(num_factors, bool) or not isinstance(num_factors, (int, np.integer)) \
            or not 2 <= num_factors <= num_units:
        raise ValueError(f"num_factors must be an integer in [2, D = {num_units}] (same vs cross needs two "
                         f"factors), got {num_factors!r}")


def _check_partition(partition: Any, num_units: int) -> tuple[tuple[int, ...], ...]:
    try:
        groups = tuple(tuple(int(u) for u in np.asarray(g).reshape(-1)) for g in partition)
    except (TypeError, ValueError):
        raise ValueError(f"partition must be a sequence of sequences of unit indices, got {partition!r}") from None
    units = sorted(u for g in groups for u in g)
    if len(groups) < 2 or any(len(g) == 0 for g in groups) or units != list(range(num_units)):
        raise ValueError(f"partition must split the units 0 .. {num_units - 1} into >= 2 non-empty groups, each "
                         f"unit in exactly one group, got {groups}")
    return groups


def _transition_arrays(z_t: Any, z_next: Any) -> tuple[np.ndarray, np.ndarray]:
    z_t, z_next = _columns(z_t, "z_t"), _columns(z_next, "z_next")
    if z_t.shape != z_next.shape:
        raise ValueError(f"z_t and z_next must have the same shape [N, D], got {z_t.shape} and {z_next.shape}")
    return z_t, z_next


def _partition_scores(z_t: np.ndarray, z_next: np.ndarray, groups: Sequence[Sequence[int]],
                      k: int, estimator: int) -> dict:
    """Same/cross MI for jittered arrays; one marginal tree per group and time, reused across pairs."""
    past = [z_t[:, list(g)] for g in groups]
    future = [z_next[:, list(g)] for g in groups]
    trees_past = [cKDTree(a) for a in past]
    trees_future = [cKDTree(a) for a in future]
    m = len(groups)
    matrix = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            matrix[i, j] = _ksg(future[i], past[j], k, estimator, trees_future[i], trees_past[j])
    off = ~np.eye(m, dtype=bool)
    same, cross = float(np.mean(np.diag(matrix))), float(np.mean(matrix[off]))
    return {"same": same, "cross": cross, "difference": same - cross, "matrix": matrix,
            "partition": tuple(tuple(int(u) for u in g) for g in groups)}


def partitioned_mutual_information(z_t: Any, z_next: Any, num_factors: int | None = None,
                                   partition: Sequence[Sequence[int]] | None = None, k: int = 3,
                                   estimator: int = 1, noise: float = 1e-10, seed: int = 0) -> dict:
    """Same- and cross-factor transition information (Whitney & Fergus 2018, Sec. 3.1, Table 2).

    The D latent units are split into factors z^1 .. z^m (``partition``, or ``num_factors``
    consecutive equal blocks). With I the KSG estimate (:func:`ksg_mutual_information`) over the N
    pairs (z_t, z_{t+1}):

        matrix[i, j] = I(z^i_{t+1}; z^j_t),
        same  = (1/m) sum_i matrix[i, i],
        cross = (1/(m(m-1))) sum_{i != j} matrix[i, j].

    A model whose factors evolve independently has same >> cross.

    Args:
      z_t, z_next: ``[N, D]`` codes at t and t+1 of the same sequences (see :func:`transition_pairs`).
      num_factors: m, for the default consecutive partition.
      partition: the groups of unit indices, one per factor (overrides ``num_factors``).
      k, estimator, noise, seed: as in :func:`ksg_mutual_information`; the noise is added once to
        all units, so every entry of the matrix sees the same data.

    Returns:
      ``{"same", "cross", "difference" (same - cross), "matrix" [m, m] ndarray (nats),
      "partition" (the groups as tuples)}``.
    """
    z_t, z_next = _transition_arrays(z_t, z_next)
    n, d = z_t.shape
    if partition is None:
        if num_factors is None:
            raise ValueError("give num_factors (consecutive equal blocks) or an explicit partition")
        groups = consecutive_partition(d, num_factors)
    else:
        groups = _check_partition(partition, d)
    _check_settings(n, k, estimator, noise)
    rng = np.random.default_rng(seed)
    return _partition_scores(_jitter(z_t, noise, rng), _jitter(z_next, noise, rng), groups, int(k), estimator)


def _random_partition(rng: np.random.Generator, num_units: int, num_factors: int) -> tuple[tuple[int, ...], ...]:
    """A uniformly random assignment of units to ``num_factors`` blocks of the consecutive sizes, in a
    canonical order (each group sorted, groups by their smallest unit) so that equal partitions compare equal."""
    sizes = [len(g) for g in consecutive_partition(num_units, num_factors)]
    perm = rng.permutation(num_units)
    cuts = np.cumsum(sizes)[:-1]
    return tuple(sorted((tuple(sorted(int(u) for u in g)) for g in np.split(perm, cuts)), key=lambda g: g[0]))


def best_random_partition(z_t: Any, z_next: Any, num_factors: int, num_partitions: int = 20, k: int = 3,
                          estimator: int = 1, noise: float = 1e-10, seed: int = 0) -> dict:
    """Whitney & Fergus (2018, Sec. 3.1)'s score for a model without factors.

    An unfactored ("entangled") model has no a-priori grouping of its units, so the paper draws
    ``num_partitions`` (20) random partitions of the D units into ``num_factors`` factors of equal
    size and reports same and cross (:func:`partitioned_mutual_information`) for the partition with
    the largest same - cross. Partitions are drawn from ``numpy.random.default_rng(seed)``
    (duplicates are possible when D is small, as in the paper's protocol); the noise is added once,
    with the same seed, before any of them is scored.

    Returns:
      The best partition's ``{"same", "cross", "difference", "matrix", "partition"}`` plus
      ``"candidates"`` (every partition drawn, in order) and ``"differences"`` (their same - cross).
    """
    z_t, z_next = _transition_arrays(z_t, z_next)
    n, d = z_t.shape
    _check_num_factors(d, num_factors)
    if isinstance(num_partitions, bool) or not isinstance(num_partitions, (int, np.integer)) or num_partitions < 1:
        raise ValueError(f"num_partitions must be an integer >= 1, got {num_partitions!r}")
    _check_settings(n, k, estimator, noise)
    rng = np.random.default_rng(seed)
    z_t, z_next = _jitter(z_t, noise, rng), _jitter(z_next, noise, rng)
    candidates = [_random_partition(rng, d, int(num_factors)) for _ in range(num_partitions)]
    scored: dict = {}
    for c in candidates:
        if c not in scored:  # a repeated draw has the same score; compute it once
            scored[c] = _partition_scores(z_t, z_next, c, int(k), estimator)
    differences = [scored[c]["difference"] for c in candidates]
    best = dict(scored[candidates[int(np.argmax(differences))]])
    best["candidates"] = candidates
    best["differences"] = differences
    return best
