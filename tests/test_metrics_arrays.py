"""Array-in metrics (MIG, DCI, SAP, modularity/explicitness, clustering accuracy) on known answers."""
import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from disentax import metrics

SIZES = np.array([3, 4, 5, 6])
K = len(SIZES)


def grid_factors(n, seed):
    return np.random.default_rng(seed).integers(0, SIZES, size=(n, K))


def perm_rescale(f):
    """A permuted, rescaled and shifted copy of the factors: a perfectly disentangled code."""
    perm, scale = [2, 0, 3, 1], np.array([0.5, 3.0, -2.0, 10.0])
    return f[:, perm] * scale + 1.0


F_TR, F_TE = grid_factors(3000, 0), grid_factors(1500, 1)
C_TR, C_TE = perm_rescale(F_TR), perm_rescale(F_TE)
R_TR = np.random.default_rng(2).normal(size=(3000, K))
R_TE = np.random.default_rng(3).normal(size=(1500, K))


def test_discrete_mutual_info_matches_sklearn_and_entropy():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 7, 500), rng.integers(0, 3, 500)
    b = np.where(rng.random(500) < 0.5, a % 3, b)  # dependent
    m = metrics.discrete_mutual_info(np.stack([a, b], 1), np.stack([b], 1))
    assert m[0, 0] == pytest.approx(mutual_info_score(a, b), abs=1e-12)
    p = np.bincount(b) / 500
    assert m[1, 0] == pytest.approx(-np.sum(p * np.log(p)), abs=1e-12)  # I(b; b) = H(b)


def test_histogram_discretize_equal_width_bins():
    x = np.array([[0.0], [0.24], [0.25], [0.5], [0.99], [1.0]])
    # 4 bins of width 0.25 on [0, 1]; the maximum shares the top bin.
    assert metrics.histogram_discretize(x, 4)[:, 0].tolist() == [1, 1, 2, 3, 4, 4]
    assert np.all(metrics.histogram_discretize(np.zeros((5, 2)), 20) == metrics.histogram_discretize(np.zeros((5, 2)), 20)[0, 0])


def test_mig_perfect_random_constant():
    assert metrics.mig(C_TR, F_TR) == pytest.approx(1.0, abs=0.01)
    assert metrics.mig(R_TR, F_TR) == pytest.approx(0.0, abs=0.02)
    assert metrics.mig(np.zeros_like(C_TR), F_TR) == 0.0


def test_mig_duplicate_latent_and_dropped_factor_lose_one_share():
    base = metrics.mig(F_TR.astype(float), F_TR)
    dup = metrics.mig(np.concatenate([F_TR, F_TR[:, :1]], 1).astype(float), F_TR)
    dropped = metrics.mig(F_TR[:, 1:].astype(float), F_TR)
    assert base == pytest.approx(1.0, abs=0.01)
    # Factor 0 now has two equally informative codes: its gap, 1/K of the score, vanishes.
    assert dup == pytest.approx(base - 1.0 / K, abs=0.01)
    assert dropped == pytest.approx(base - 1.0 / K, abs=0.01)


def test_mig_closed_form_small():
    # z0 = v0 exactly, z1 = v0 as well, v1 independent of both: factor 0 gap 0, factor 1 gap 0.
    f = np.array([[a, b] for a in range(2) for b in range(2)] * 25)
    assert metrics.mig(np.stack([f[:, 0], f[:, 0]], 1).astype(float), f) == pytest.approx(0.0, abs=1e-12)
    # z0 = v0, z1 = v1: each gap is H(v) - 0 = H(v); MIG = 1 exactly.
    assert metrics.mig(f.astype(float), f) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "importance, disent",
    [("gbt", 0.99), ("lasso", 0.99), ("random_forest", 0.85)],
)
def test_dci_perfect_code(importance, disent):
    n = 400 if importance == "gbt" else 3000
    s = metrics.dci(C_TR[:n], F_TR[:n], C_TE[:n], F_TE[:n], importance=importance)
    assert set(s) == {"disentanglement", "completeness", "informativeness_train", "informativeness_test"}
    assert s["disentanglement"] >= disent and s["completeness"] >= disent
    assert s["informativeness_test"] >= 0.99


def test_dci_random_and_constant_codes():
    s = metrics.dci(R_TR, F_TR, R_TE, F_TE, importance="random_forest")
    assert s["disentanglement"] < 0.05 and s["completeness"] < 0.05
    chance = np.mean(1.0 / SIZES)
    assert s["informativeness_test"] == pytest.approx(chance, abs=0.05)
    z = np.zeros((300, 3))
    s = metrics.dci(z, F_TR[:300], z, F_TE[:300], importance="gbt")
    assert s["disentanglement"] == pytest.approx(0.0, abs=1e-12) and s["completeness"] == pytest.approx(0.0, abs=1e-12)


def test_dci_dropped_factor_loses_its_informativeness_share():
    s = metrics.dci(C_TR[:400, 1:], F_TR[:400], C_TE[:400, 1:], F_TE[:400], importance="gbt")
    # perm_rescale puts factor 2 in column 0: with it gone, factor 2 is predicted at chance.
    expected = (K - 1 + 1.0 / SIZES[2]) / K
    assert s["informativeness_test"] == pytest.approx(expected, abs=0.04)
    # (Disentanglement drops too: GBT importances of every factor sum to 1, so the unpredictable
    # factor's importance is spread over the remaining codes.)


def test_dci_from_importance_closed_forms():
    d, c = metrics.dci_from_importance(np.eye(3)[[2, 0, 1]] * [1.0, 5.0, 2.0])
    assert d == pytest.approx(1.0, abs=1e-8) and c == pytest.approx(1.0, abs=1e-8)
    d, c = metrics.dci_from_importance(np.ones((4, 3)))
    assert d == pytest.approx(0.0, abs=1e-8) and c == pytest.approx(0.0, abs=1e-8)
    # One code explains every factor equally: not disentangled, but each factor is complete.
    r = np.zeros((2, 2))
    r[0] = [0.5, 0.5]
    d, c = metrics.dci_from_importance(r)
    assert d == pytest.approx(0.0, abs=1e-8) and c == pytest.approx(1.0, abs=1e-8)
    # Code 0 -> (0.9, 0.1), code 1 -> (0, 1): weights rho = (1, 1)/2 by hand.
    r = np.array([[0.9, 0.1], [0.0, 1.0]])
    h = lambda p: -sum(x * np.log(x) for x in p if x > 0) / np.log(2)  # noqa: E731
    d, c = metrics.dci_from_importance(r)
    assert d == pytest.approx(0.5 * (1 - h([0.9, 0.1])) + 0.5 * 1.0, abs=1e-8)
    assert c == pytest.approx(0.45 * 1.0 + 0.55 * (1 - h([0.1 / 1.1, 1 / 1.1])), abs=1e-8)


def test_sap_known_answers():
    assert metrics.sap(C_TR, F_TR, C_TE, F_TE, continuous_factors=True) == pytest.approx(1.0, abs=0.01)
    assert metrics.sap(R_TR, F_TR, R_TE, F_TE, continuous_factors=True) == pytest.approx(0.0, abs=0.01)
    dropped = metrics.sap(C_TR[:, 1:], F_TR, C_TE[:, 1:], F_TE, continuous_factors=True)
    assert dropped == pytest.approx(1.0 - 1.0 / K, abs=0.01)
    z = np.zeros((200, 3))
    assert metrics.sap(z, F_TR[:200], z, F_TE[:200]) == 0.0
    # Discrete (default): the best gap for a balanced binary factor is 1 - 1/2.
    rng = np.random.default_rng(5)
    f_tr, f_te = rng.integers(0, 2, (600, 3)), rng.integers(0, 2, (300, 3))
    assert metrics.sap(f_tr * 2.0 - 0.3, f_tr, f_te * 2.0 - 0.3, f_te) == pytest.approx(0.5, abs=0.06)


def test_modularity_and_explicitness():
    s = metrics.modularity_explicitness(C_TR, F_TR, C_TE, F_TE)
    assert s["modularity"] == pytest.approx(1.0, abs=0.01)
    assert s["explicitness"] >= 0.95
    z = np.zeros((300, 3))
    s = metrics.modularity_explicitness(z, F_TR[:300], z, F_TE[:300])
    assert s["modularity"] == 0.0 and s["explicitness"] == pytest.approx(0.5)
    # Closed form: code with MI (2, 1, 0) to three factors -> delta = 1 / (4 * 2).
    assert metrics.modularity(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])) == pytest.approx((1 - 1 / 8 + 1) / 2)


def test_clustering_accuracy_hand_made():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    pred = np.array([5, 5, 7, 7, 7, 9, 9, 9])
    # Many-to-one: cluster 5 -> 0 (2), 7 -> 1 (2 of 3), 9 -> 2 (2 of 3): 6/8.
    assert metrics.clustering_accuracy(pred, labels) == pytest.approx(6 / 8)
    assert metrics.clustering_accuracy(pred, labels, one_to_one=True) == pytest.approx(6 / 8)
    # Four clusters for two classes: many-to-one is perfect, one-to-one must leave two unmatched.
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    assert metrics.clustering_accuracy(pred, labels) == 1.0
    assert metrics.clustering_accuracy(pred, labels, one_to_one=True) == pytest.approx(4 / 8)
    # A permutation of the labels is perfect either way.
    assert metrics.clustering_accuracy((labels + 1) % 2, labels, one_to_one=True) == 1.0
    with pytest.raises(ValueError, match="same length"):
        metrics.clustering_accuracy([0, 1], [0])


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown importance 'svm'; allowed: gbt, random_forest, lasso"):
        metrics.dci(C_TR, F_TR, C_TE, F_TE, importance="svm")
    with pytest.raises(ValueError, match=r"codes must have shape \[N, D\]"):
        metrics.mig(np.zeros(5), np.zeros((5, 1), int))
    with pytest.raises(ValueError, match="factors must be integer"):
        metrics.mig(np.zeros((5, 2)), np.full((5, 1), 0.5))
