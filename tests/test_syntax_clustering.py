"""Brunner et al. (2018)'s syntax clustering error: the per-clustering count against explicit loops and
the paper's worked cluster, the best-of-runs K-means error on codes whose clusters are known, the
extreme values (one cluster, one cluster per point) and the refusals of bad input."""
import numpy as np
import pytest

from disentax.metrics import clustering_error as exported
from disentax.metrics.syntax_clustering import assignment_error, clustering_error


def brute_force_error(clusters, labels):
    """Σ over clusters of (members − members of the cluster's most frequent label), by loops."""
    total = 0
    for c in sorted(set(clusters.tolist())):
        members = [int(y) for cc, y in zip(clusters.tolist(), labels.tolist()) if cc == c]
        counts = {}
        for y in members:
            counts[y] = counts.get(y, 0) + 1
        total += len(members) - max(counts.values())
    return total


def blobs_with_composition(compositions, seed=0, spread=1e-3, separation=100.0):
    """Codes in tight, far-apart blobs; blob b holds compositions[b][y] examples of label y."""
    rng = np.random.default_rng(seed)
    dim = len(compositions)
    codes, labels = [], []
    for b, counts in enumerate(compositions):
        centre = np.zeros(dim)
        centre[b] = separation
        for y, n in enumerate(counts):
            codes.append(centre + spread * rng.standard_normal((n, dim)))
            labels += [y] * n
    return np.concatenate(codes), np.asarray(labels)


def test_the_papers_worked_cluster_has_error_41():
    # Brunner et al. (2018), Sec. 4.1: a cluster holding [30, 3, 1, 7, 88, 0, ...] sentences of the
    # categories is category five's, with 30 + 3 + 1 + 7 = 41 errors.
    counts = [30, 3, 1, 7, 88] + [0] * 9
    labels = np.repeat(np.arange(14), counts)
    assert assignment_error(np.zeros(labels.size, int), labels) == 41


def test_assignment_error_matches_the_loops_on_random_assignments():
    rng = np.random.default_rng(3)
    for n, k, y in [(1, 1, 1), (7, 3, 2), (200, 14, 14), (300, 5, 30), (50, 50, 3)]:
        clusters, labels = rng.integers(0, k, n), rng.integers(0, y, n)
        assert assignment_error(clusters, labels) == brute_force_error(clusters, labels)
    # Cluster and label ids are names only: relabelling either leaves the error unchanged.
    clusters, labels = rng.integers(0, 6, 120), rng.integers(0, 4, 120)
    perm_c, perm_y = rng.permutation(6) * 10 + 7, rng.permutation(4) - 2
    assert assignment_error(perm_c[clusters], perm_y[labels]) == assignment_error(clusters, labels)


def test_best_of_runs_finds_the_known_clusters_and_their_hand_counted_error():
    # 14 blobs; blob 0 is the paper's cluster (error 41), blob 1 holds 20 of label 1 and 6 of label 2
    # (error 6), blob 2 splits 5 / 5 (error 5), the other blobs are pure (error 0).
    compositions = [[0] * 14 for _ in range(14)]
    compositions[0][:5] = [30, 3, 1, 7, 88]
    compositions[1][1:3] = [20, 6]
    compositions[2][6:8] = [5, 5]
    for b in range(3, 14):
        compositions[b][b] = 10
    codes, labels = blobs_with_composition(compositions)
    result = clustering_error(codes, labels, k=14, runs=20, seed=0)
    assert result["best"] == 41 + 6 + 5
    assert len(result["errors"]) == 20 and min(result["errors"]) == result["best"]
    assert result["mean"] == pytest.approx(np.mean(result["errors"]))
    assert exported is clustering_error


def test_the_first_runs_do_not_depend_on_how_many_follow_and_the_seed_changes_them():
    rng = np.random.default_rng(0)
    codes, labels = rng.standard_normal((120, 3)), rng.integers(0, 4, 120)
    ten = clustering_error(codes, labels, k=6, runs=10, seed=1)["errors"]
    assert clustering_error(codes, labels, k=6, runs=4, seed=1)["errors"] == ten[:4]
    assert clustering_error(codes, labels, k=6, runs=10, seed=1)["errors"] == ten  # deterministic
    assert clustering_error(codes, labels, k=6, runs=10, seed=2)["errors"] != ten


def test_extreme_cluster_counts():
    rng = np.random.default_rng(1)
    codes, labels = rng.standard_normal((40, 2)), rng.integers(0, 3, 40)
    # One cluster: every example outside the most frequent label is an error.
    assert clustering_error(codes, labels, k=1, runs=2)["best"] == 40 - np.bincount(labels).max()
    # One cluster per (distinct) point: no errors.
    assert clustering_error(codes, labels, k=40, runs=2) == {"best": 0, "mean": 0.0, "errors": [0, 0]}
    # Identical codes (as the empty sentences give): still a clustering, with the one-cluster error.
    same = np.zeros((30, 4))
    y = np.repeat([0, 1, 2], [5, 10, 15])
    assert clustering_error(same, y, k=3, runs=1)["best"] == 15


@pytest.mark.parametrize("codes, labels, kw, match", [
    (np.zeros(10), np.zeros(10), {}, r"codes must be \[N, D\]"),
    (np.zeros((10, 2)), np.zeros(9), {}, r"labels must be \[N\] = \[10\]"),
    (np.zeros((10, 2)), np.zeros(10), {"k": 11}, r"k must be in \[1, N = 10\], got 11"),
    (np.zeros((10, 2)), np.zeros(10), {"k": 0}, r"k must be in \[1, N = 10\], got 0"),
    (np.zeros((10, 2)), np.zeros(10), {"k": 2, "runs": 0}, r"runs must be >= 1"),
    (np.full((10, 2), np.nan), np.zeros(10), {"k": 2}, r"codes must be finite"),
])
def test_bad_input_is_refused_in_one_line(codes, labels, kw, match):
    with pytest.raises(ValueError, match=match) as info:
        clustering_error(codes, labels, **kw)
    assert "\n" not in str(info.value)
