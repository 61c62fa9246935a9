"""DCI-ES: disentanglement, completeness, informativeness, explicitness and size (Eastwood,
Nicolicioiu, von Kügelgen, Kekić, Träuble, Dittadi & Schölkopf 2023, "DCI-ES: An Extended
Disentanglement Framework with Connections to Identifiability", ICLR).

Explicitness asks how much probe capacity it takes to read each factor v_k off the code. For a probe
family with capacities c_min = c_1 < ... < c_M = c_max, let L_k(c) be the test loss of the probe of
capacity c, normalised by the loss of the best constant predictor (the baseline, so L = 1 means no
better than a constant), and made non-increasing by a running minimum (a larger family contains the
smaller ones; the minimum removes fitting noise). With l* the lowest achievable loss,

    E_k = 1 - AULCC_k / Z,   AULCC_k = int_{c_min}^{c_max} (L_k(c) - l*) dc,   Z = (c_max - c_min)(1 - l*),

the integral by the trapezoidal rule on the grid. E_k = 1 when the smallest probe already reaches l*,
0 when no probe beats the constant. ``explicitness`` is the mean of E_k over factors.

    informativeness = mean_k (1 - min_c L_k(c)),    size = K / D.

Size is the number of factors per code dimension (1 for a code as small as the factors, smaller for
larger codes), reported because a wider code can buy explicitness with dimensions. Disentanglement
and completeness are Eastwood & Williams' (:func:`~disentax.metrics.dci.dci_from_importance`) on the
importance matrix R[d, k] = feature importances of factor k's probe at the capacity with the lowest
test loss, the paper's "D and C of the best probe".

Choices, where the paper leaves them open or its settings are too slow here:

* Probe family: sklearn random forests (``RandomForestRegressor`` for continuous factors,
  ``RandomForestClassifier`` for discrete ones), capacity = ``max_depth`` on a linear axis, as in the
  authors' random-forest experiments. Default grid ``(1, 2, 3, 4, 6, 8, 12)`` with
  ``n_estimators=10`` (Eastwood & Williams' forest size, also :mod:`~disentax.metrics.dci`'s),
  instead of the authors' 100 trees and depths up to 32: dense where curves bend (a depth-d tree
  separates at most 2^d values, so depths 1-4 resolve small factors and 6-8 the 32/40-value ones),
  stopping at 12, where the leaves of a forest trained on 10,000 points hold a handful of points.
* One forest per factor serves the whole grid: it is grown to the largest depth and the probe of
  capacity c is that forest cut at depth c (each sample predicted by the node it reaches after c
  splits; importances from the splits above depth c). Greedy depth-first trees make this the forest
  one would grow with ``max_depth=c`` from the same seed, up to how exactly tied splits are broken,
  at the cost of one fit instead of M (about 1-3 s per factor on 10,000 x 10 codes).
* Every split considers all code dimensions (``max_features=None``, i.e. bagged trees): with
  sklearn's random feature subsets a shallow tree must often split on a dimension that does not
  matter, which spreads the importances and makes D and C of a perfect code about 0.45.
* Losses: continuous factors — MSE / MSE of the training mean (1 - R^2 on the test set, up to the train-test mean shift);
  discrete factors — error rate / error rate of the training majority class (the authors' 0-1 loss
  against the majority baseline). ``l* = 0`` (``lowest_loss``): the factors are exact functions of
  the data, the setting of the paper's experiments. With l* = 0 the curve never lies below its
  final minimum, so E_k <= I_k: a code that never predicts a factor well cannot be explicit about
  it, and pure noise scores E ~ 0. Pass the best loss any representation reaches as
  ``lowest_loss`` to measure the shape of the curve alone.
* Size is K / D, our reading of the paper (a property of the code's width, no probe involved).
  The related probe quantity — how far along the capacity axis a factor's curve reaches its
  minimum — is reported as ``capacity_at_min`` (per factor): (c* - c_min) / (c_max - c_min) for the
  first capacity c* where the running minimum reaches its final value.
* A factor constant on the training set has nothing to predict: it is left out of every mean and
  gets a zero importance column.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np

from disentax.metrics._checks import check_mixed_factors
from disentax.metrics.dci import dci_from_importance
from disentax.metrics.utils import sample_train_test

__all__ = ["DEFAULT_CAPACITIES", "dci_es", "dci_es_score", "explicitness_from_curve", "loss_capacity_curves"]

DEFAULT_CAPACITIES = (1, 2, 3, 4, 6, 8, 12)


def _check_capacities(capacities: Sequence[int]) -> np.ndarray:
    caps = np.asarray(capacities)
    if caps.ndim != 1 or len(caps) < 2 or caps.dtype.kind not in "iu" or np.any(caps < 1) or np.any(np.diff(caps) <= 0):
        raise ValueError(f"capacities must be at least 2 increasing positive integers (tree depths), got {capacities!r}")
    return caps.astype(np.int64)


def _node_depths(tree: Any) -> np.ndarray:
    depth = np.zeros(tree.node_count, dtype=np.int64)
    frontier, level = np.array([0]), 0
    while frontier.size:
        kids = np.concatenate([tree.children_left[frontier], tree.children_right[frontier]])
        kids = kids[kids >= 0]
        level += 1
        depth[kids] = level
        frontier = kids
    return depth


def _truncated_forest(forest: Any, x: np.ndarray, caps: np.ndarray, classify: bool, num_codes: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Predictions ``[M, N]`` and importances ``[M, D]`` of `forest` cut at each depth in `caps`.

    A sample's prediction at depth c is the value of the node where its root-to-leaf path stands
    after c steps (or its leaf, if shallower), averaged over trees like the forest's own predict;
    importances are the impurity decreases of the splits above depth c, normalised per tree and
    averaged over the trees that split, like ``feature_importances_``.
    """
    value_sum = None
    importance = np.zeros((len(caps), num_codes))
    splitting = np.zeros(len(caps))
    for est in forest.estimators_:
        t = est.tree_
        path = est.decision_path(x)
        path.sort_indices()  # node ids grow along a path (parents are numbered before children)
        length = np.diff(path.indptr)
        values = t.value[:, 0, :]
        if classify:
            values = values / values.sum(axis=1, keepdims=True)
        at = np.stack([values[path.indices[path.indptr[:-1] + np.minimum(c, length - 1)]] for c in caps])
        value_sum = at if value_sum is None else value_sum + at
        depth = _node_depths(t)
        left, right, w, imp = t.children_left, t.children_right, t.weighted_n_node_samples, t.impurity
        for m, c in enumerate(caps):
            nodes = np.flatnonzero((left >= 0) & (depth < c))
            gain = w[nodes] * imp[nodes] - w[left[nodes]] * imp[left[nodes]] - w[right[nodes]] * imp[right[nodes]]
            per_code = np.bincount(t.feature[nodes], weights=gain, minlength=num_codes)
            if per_code.sum() > 0:
                importance[m] += per_code / per_code.sum()
                splitting[m] += 1
    mean = value_sum / len(forest.estimators_)
    pred = forest.classes_[np.argmax(mean, axis=-1)] if classify else mean[..., 0]
    importance /= np.maximum(splitting, 1)[:, None]
    total = importance.sum(axis=1, keepdims=True)
    return pred, np.where(total > 0, importance / np.where(total > 0, total, 1.0), 0.0)


def loss_capacity_curves(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    *,
    continuous_factors: bool | Sequence[bool] = False,
    capacities: Sequence[int] = DEFAULT_CAPACITIES,
    n_estimators: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(losses [K, M], importances [K, M, D], predictable [K])`` of random-forest probes.

    ``losses[k, m]`` is factor k's normalised test loss at ``capacities[m]`` (before the running
    minimum); rows of factors that are constant on the training set (``predictable`` False) are NaN.
    One forest per factor (``random_state=seed``) is grown to the largest depth and cut at each
    capacity (module docstring).
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    caps = _check_capacities(capacities)
    x_tr, y_tr, cont = check_mixed_factors(codes_train, factors_train, continuous_factors, "codes_train")
    x_te, y_te, _ = check_mixed_factors(codes_test, factors_test, cont, "codes_test")
    if x_tr.shape[1] != x_te.shape[1] or y_tr.shape[1] != y_te.shape[1]:
        raise ValueError(f"train and test disagree on D or K: codes {x_tr.shape} vs {x_te.shape}, factors {y_tr.shape} vs {y_te.shape}")
    if int(n_estimators) < 1:
        raise ValueError(f"n_estimators must be a positive integer, got {n_estimators}")
    num_factors, num_codes = y_tr.shape[1], x_tr.shape[1]
    losses = np.full((num_factors, len(caps)), np.nan)
    importances = np.zeros((num_factors, len(caps), num_codes))
    predictable = np.array([np.ptp(y_tr[:, k]) > 0 for k in range(num_factors)])
    for k in np.flatnonzero(predictable):
        t_tr, t_te = y_tr[:, k], y_te[:, k]
        if cont[k]:
            baseline = float(np.mean((t_te - t_tr.mean()) ** 2))
        else:
            t_tr, t_te = t_tr.astype(np.int64), t_te.astype(np.int64)
            values, counts = np.unique(t_tr, return_counts=True)
            baseline = float(np.mean(t_te != values[np.argmax(counts)]))
        if baseline <= 0:
            raise ValueError(f"factor {k}: the constant baseline is exact on the test set (loss 0), so losses cannot be normalised")
        kind = RandomForestRegressor if cont[k] else RandomForestClassifier
        forest = kind(n_estimators=int(n_estimators), max_depth=int(caps[-1]), max_features=None,
                      random_state=seed).fit(x_tr, t_tr)
        pred, importances[k] = _truncated_forest(forest, x_te, caps, not cont[k], num_codes)
        loss = np.mean((pred - t_te) ** 2, axis=1) if cont[k] else np.mean(pred != t_te, axis=1)
        losses[k] = loss / baseline
    return losses, importances, predictable


def explicitness_from_curve(losses: Any, capacities: Sequence[float], lowest_loss: float = 0.0) -> float:
    """E = 1 - AULCC / Z of one factor's normalised loss-capacity curve (module docstring).

    `losses` ``[M]`` are normalised test losses (baseline = 1) at increasing `capacities` ``[M]``
    (any probe family: tree depths, log widths of an MLP, ...); they are made non-increasing by a
    running minimum, the area above `lowest_loss` is integrated by the trapezoidal rule and the
    result clipped to [0, 1].
    """
    curve = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    caps = np.asarray(capacities, dtype=np.float64)
    if curve.ndim != 1 or caps.shape != curve.shape or len(caps) < 2 or np.any(np.diff(caps) <= 0):
        raise ValueError(f"need losses and capacities of the same length >= 2 with increasing capacities, got {curve.shape} and {caps.shape}")
    if not np.all(np.isfinite(curve)):
        raise ValueError("losses contain NaN or infinite values")
    if not 0.0 <= float(lowest_loss) < 1.0:
        raise ValueError(f"lowest_loss is a normalised loss and must be in [0, 1), got {lowest_loss}")
    excess = np.maximum(curve - lowest_loss, 0.0)
    area = float(np.sum(0.5 * (excess[1:] + excess[:-1]) * np.diff(caps)))
    return float(np.clip(1.0 - area / ((caps[-1] - caps[0]) * (1.0 - lowest_loss)), 0.0, 1.0))


def dci_es(
    codes_train: Any,
    factors_train: Any,
    codes_test: Any,
    factors_test: Any,
    *,
    continuous_factors: bool | Sequence[bool] = False,
    capacities: Sequence[int] = DEFAULT_CAPACITIES,
    n_estimators: int = 10,
    lowest_loss: float = 0.0,
    seed: int = 0,
) -> dict:
    """DCI-ES of ``codes [N, D]`` against ``factors [N, K]`` (see the module docstring).

    `continuous_factors`: one flag for all factors or one per factor; continuous factors are
    regressed (real values allowed), the others classified (integer labels). `seed` is every
    forest's ``random_state``: the same inputs and seed give the same numbers.

    Returns ``{"disentanglement", "completeness", "informativeness", "explicitness", "size"}`` and
    the details ``"explicitness_per_factor"``, ``"informativeness_per_factor"``,
    ``"capacity_at_min"`` (NaN for unpredictable factors), ``"capacities"``, ``"losses"`` [K][M]
    (normalised test losses, before the running minimum) and ``"importance"`` [D][K].
    """
    if not 0.0 <= float(lowest_loss) < 1.0:
        raise ValueError(f"lowest_loss is a normalised loss and must be in [0, 1), got {lowest_loss}")
    caps = _check_capacities(capacities)
    losses, importances, predictable = loss_capacity_curves(
        codes_train, factors_train, codes_test, factors_test, continuous_factors=continuous_factors,
        capacities=caps, n_estimators=n_estimators, seed=seed)
    if not np.any(predictable):
        raise ValueError("dci_es needs at least one factor taking more than one value on the training set")
    num_factors, num_codes = importances.shape[0], importances.shape[2]
    explicit = np.full(num_factors, np.nan)
    informative = np.full(num_factors, np.nan)
    at_min = np.full(num_factors, np.nan)
    r = np.zeros((num_codes, num_factors))
    for k in np.flatnonzero(predictable):
        curve = np.minimum.accumulate(losses[k])
        explicit[k] = explicitness_from_curve(losses[k], caps, lowest_loss)
        informative[k] = float(np.clip(1.0 - curve[-1], 0.0, 1.0))
        first = int(np.flatnonzero(curve <= curve[-1])[0])
        at_min[k] = (caps[first] - caps[0]) / (caps[-1] - caps[0])
        r[:, k] = importances[k, int(np.argmin(losses[k]))]
    d, c = dci_from_importance(r)
    return {
        "disentanglement": d,
        "completeness": c,
        "informativeness": float(np.mean(informative[predictable])),
        "explicitness": float(np.mean(explicit[predictable])),
        "size": num_factors / num_codes,
        "explicitness_per_factor": explicit.tolist(),
        "informativeness_per_factor": informative.tolist(),
        "capacity_at_min": at_min.tolist(),
        "capacities": caps.tolist(),
        "losses": losses.tolist(),
        "importance": r.tolist(),
    }


def dci_es_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    num_test: int = 5_000,
    capacities: Sequence[int] = DEFAULT_CAPACITIES,
    n_estimators: int = 10,
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`dci_es` on codes sampled from `dataset`: probes fit on ``num_train`` points and their
    losses measured on ``num_test`` others (DCI's protocol, 10,000 / 5,000; the paper fixes none).

    The dataset's factors are class indices, so every probe is a classifier (0-1 loss against the
    majority class); the forests' ``random_state`` is drawn from `key`
    (:func:`~disentax.metrics.utils.sample_train_test`).
    """
    train, test, seed = sample_train_test(key, representation_fn, dataset, "dci_es", num_train, num_test,
                                          batch_size, progress)
    return dci_es(*train, *test, capacities=capacities, n_estimators=n_estimators, seed=seed)
