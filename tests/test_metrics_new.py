"""IRS, DCI-ES, InfoMEC and MCC on known answers, brute-force references and bad inputs."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from disentax import metrics
from disentax.data.base import GroundTruthDataset

SIZES = np.array([3, 4, 5, 6])
K = len(SIZES)
PERM, SCALE = [2, 0, 3, 1], np.array([0.5, 3.0, -2.0, 10.0])


def grid_factors(n, seed, sizes=SIZES):
    return np.random.default_rng(seed).integers(0, sizes, size=(n, len(sizes)))


def perm_rescale(f):
    """A permuted, rescaled (one sign flipped) and shifted copy of the factors: a perfectly disentangled code."""
    return f[:, PERM] * SCALE + 1.0


def rotate01(z, degrees):
    """Rotate code dimensions 0 and 1 into each other: an entangled pair."""
    t = np.deg2rad(degrees)
    out = z.astype(np.float64).copy()
    out[:, 0], out[:, 1] = np.cos(t) * z[:, 0] - np.sin(t) * z[:, 1], np.sin(t) * z[:, 0] + np.cos(t) * z[:, 1]
    return out


F = grid_factors(3000, 0)
C = perm_rescale(F)
NOISE = np.random.default_rng(2).normal(size=(3000, K))
# DCI-ES trains 7 forests per factor: a smaller split keeps it quick.
F_TR, F_TE = grid_factors(600, 3), grid_factors(300, 4)
C_TR, C_TE = perm_rescale(F_TR), perm_rescale(F_TE)
U_TR, U_TE = (np.random.default_rng(s).uniform(size=(n, 3)) for s, n in ((5, 600), (6, 300)))  # continuous factors


# --------------------------------------------------------------------------------------------- MCC


def test_mcc_perfect_code_is_one_and_affine_invariant():
    assert metrics.mcc(C, F) == pytest.approx(1.0, abs=1e-12)
    assert metrics.mcc(C, F, correlation="spearman") == pytest.approx(1.0, abs=1e-12)
    base = metrics.mcc(rotate01(C, 30), F)
    assert metrics.mcc(rotate01(C, 30) * -3.5 + 7.0, F) == pytest.approx(base, abs=1e-12)
    _, matching = metrics.match_correlations(metrics.abs_correlation_matrix(C, F))
    assert matching.tolist() == np.argsort(PERM).tolist()  # factor k sits in code column PERM.index(k)


def test_mcc_random_codes_near_zero():
    # |rho| of independent columns has sd 1/sqrt(N) = 0.018; the best matching of 4 out of 16 stays below 3/sqrt(N).
    assert metrics.mcc(NOISE, F) < 3 / np.sqrt(len(F))
    assert metrics.mcc(NOISE, F, correlation="spearman") < 3 / np.sqrt(len(F))


def test_mcc_duplicated_and_dropped_latent():
    dup = C.copy()
    dup[:, 1] = C[:, 0]  # factor 2 twice, factor 0 nowhere: only one copy can be matched
    assert metrics.mcc(dup, F) == pytest.approx(0.75, abs=0.03)
    # D < K: the unmatched factor counts 0.
    assert metrics.mcc(C[:, 1:], F) == pytest.approx(0.75, abs=1e-12)
    # An extra copy (D > K) is simply left unmatched.
    assert metrics.mcc(np.concatenate([C, C[:, :1]], 1), F) == pytest.approx(1.0, abs=1e-12)


def _brute_mcc(r):
    num_codes, num_factors = r.shape
    if num_codes >= num_factors:
        return max(sum(r[p[k], k] for k in range(num_factors)) for p in itertools.permutations(range(num_codes), num_factors)) / num_factors
    return max(sum(r[d, p[d]] for d in range(num_codes)) for p in itertools.permutations(range(num_factors), num_codes)) / num_factors


@pytest.mark.parametrize("num_codes", [4, 6, 2])
def test_mcc_matches_all_permutations(num_codes):
    rng = np.random.default_rng(num_codes)
    f = rng.normal(size=(400, 4))
    z = f[:, rng.permutation(4)[:min(num_codes, 4)]] @ rng.normal(size=(min(num_codes, 4), num_codes)) + rng.normal(size=(400, num_codes))
    r = metrics.abs_correlation_matrix(z, f)
    np.testing.assert_allclose(r, np.abs(np.corrcoef(z.T, f.T)[:num_codes, num_codes:]), atol=1e-12)
    assert metrics.mcc(z, f) == pytest.approx(_brute_mcc(r), abs=1e-12)


def test_mcc_spearman_is_pearson_on_ranks_and_monotone_invariant():
    from scipy.stats import rankdata

    rng = np.random.default_rng(1)
    f = rng.uniform(size=(500, 3))
    z = np.stack([np.exp(4 * f[:, 2]), f[:, 0] ** 3, f[:, 1] + 0.3 * rng.normal(size=500)], 1)
    assert metrics.mcc(z, f, "spearman") == pytest.approx(metrics.mcc(rankdata(z, axis=0), rankdata(f, axis=0)), abs=1e-12)
    # Monotone maps keep every rank: the two clean columns match perfectly under Spearman only.
    r_s = metrics.abs_correlation_matrix(z, f, "spearman")
    assert r_s[0, 2] == pytest.approx(1.0) and r_s[1, 0] == pytest.approx(1.0)
    assert metrics.abs_correlation_matrix(z, f)[0, 2] < 0.95


def test_mcc_continuous_rotation_closed_form():
    # Equal-variance independent factors rotated by theta: |rho| = cos(theta) on the matched diagonal.
    rng = np.random.default_rng(4)
    f = rng.uniform(size=(20_000, 2))
    assert metrics.mcc(rotate01(f, 30), f) == pytest.approx(np.cos(np.deg2rad(30)), abs=0.01)


def test_mcc_constant_columns_are_zero_not_nan():
    z = np.concatenate([C, np.full((len(C), 1), 0.1)], 1)
    f = np.concatenate([F, np.full((len(F), 1), 3)], 1)
    r = metrics.abs_correlation_matrix(z, f)
    assert np.all(np.isfinite(r)) and np.all(r[-1] == 0) and np.all(r[:, -1] == 0)
    assert metrics.mcc(z, f) == pytest.approx(4 / 5, abs=1e-12)


# --------------------------------------------------------------------------------------------- IRS


def test_irs_perfect_code_and_noise():
    s = metrics.irs(C, F)
    assert s["irs"] == pytest.approx(1.0, abs=1e-12) and s["num_active_dims"] == K
    assert s["parents"] == PERM
    # Uniform noise: E[z | v_k] ~ 1/2 and the 0.99 quantile of |z - 1/2| is 0.495 of the maximum 0.5.
    u = np.random.default_rng(3).uniform(size=(3000, K))
    assert metrics.irs(u, F)["irs"] < 0.05
    # Gaussian noise scores well above 0: the 0.99 quantile (2.6 sd) is far below the maximum (~3.6 sd at N = 3000).
    assert 0.2 < metrics.irs(NOISE, F)["irs"] < 0.45


def test_irs_entangled_duplicated_dropped_and_constant():
    ent = C.copy()
    ent[:, 0] = F[:, 0] + F[:, 1]
    s = metrics.irs(ent, F)
    assert s["per_dim"][0] < 0.8 and s["per_dim"][1:] == [1.0] * (K - 1)
    # The other dimensions are wider (scales 3, 2, 10), so they weigh more in the average.
    assert s["irs"] == pytest.approx(np.average(s["per_dim"], weights=s["max_deviations"]), abs=1e-12) and s["irs"] < 0.99
    # IRS is per-dimension robustness: copies and missing factors do not change it.
    assert metrics.irs(np.concatenate([C, C[:, :1]], 1), F)["irs"] == pytest.approx(1.0, abs=1e-12)
    assert metrics.irs(C[:, 1:], F)["irs"] == pytest.approx(1.0, abs=1e-12)
    z = np.concatenate([C, np.zeros((len(C), 1))], 1)
    s = metrics.irs(z, F)
    assert s["num_active_dims"] == K and s["parents"][-1] == -1 and s["max_deviations"][-1] == 0.0
    assert metrics.irs(np.zeros((50, 2)), F[:50])["irs"] == 0.0


def test_irs_affine_invariant():
    z = rotate01(C, 20) + 0.3 * NOISE
    a, b = metrics.irs(z, F), metrics.irs(z * -4.0 + 2.5, F)
    assert a["irs"] == pytest.approx(b["irs"], abs=1e-12)
    np.testing.assert_allclose(a["matrix"], b["matrix"], atol=1e-12)


def _brute_irs_groups(codes, factors, sizes):
    """The paper's definitions on a full grid, literally: sup over nuisance configurations."""
    num_codes = codes.shape[1]
    cond = lambda fixed: codes[np.all([factors[:, j] == v for j, v in fixed.items()], axis=0)].mean(0)
    mean = codes.mean(0)
    grid = list(itertools.product(*[range(s) for s in sizes]))
    norm = np.max([np.abs(mean - cond(dict(enumerate(g)))) for g in grid], axis=0)
    out = np.zeros((num_codes, len(sizes)))
    for k, size in enumerate(sizes):
        others = [j for j in range(len(sizes)) if j != k]
        empida = np.zeros(num_codes)
        for i in range(size):
            e_i = cond({k: i})
            mpida = np.zeros(num_codes)
            for rest in itertools.product(*[range(sizes[j]) for j in others]):
                pida = np.abs(e_i - cond({k: i, **dict(zip(others, rest))}))
                mpida = np.maximum(mpida, pida)
            empida += mpida / size
        out[:, k] = 1 - empida / norm
    return out


def test_irs_matches_brute_force_on_a_tiny_grid():
    sizes = (2, 3, 2)
    rng = np.random.default_rng(7)
    cells = np.array(list(itertools.product(*[range(s) for s in sizes])))
    f = np.repeat(cells, 3, axis=0)  # every configuration three times
    z = np.stack([f[:, 0] + 0.2 * f[:, 1], f[:, 1] * f[:, 2], f[:, 2] - 0.1 * f[:, 0]], 1) + 0.05 * rng.normal(size=(len(f), 3))
    ref = _brute_irs_groups(z, f, sizes)
    s = metrics.irs(z, f, diff_quantile=1.0, nuisance="groups")
    np.testing.assert_allclose(s["matrix"], ref, atol=1e-12)
    norm = np.max(np.abs(np.stack([z[np.all(f == c, 1)].mean(0) for c in cells]) - z.mean(0)), axis=0)
    assert s["irs"] == pytest.approx(np.average(ref.max(1), weights=norm), abs=1e-12)
    # One point per configuration: the scalable per-point estimator is the same estimator.
    g = metrics.irs(z[::3], f[::3], diff_quantile=1.0, nuisance="groups")
    p = metrics.irs(z[::3], f[::3], diff_quantile=1.0, nuisance="points")
    np.testing.assert_allclose(g["matrix"], p["matrix"], atol=1e-12)


def test_irs_points_estimator_matches_a_loop_and_bins_factors():
    rng = np.random.default_rng(8)
    f = grid_factors(400, 9, sizes=np.array([3, 4]))
    z = np.stack([f[:, 0] + 0.5 * rng.normal(size=400), f[:, 1] * f[:, 0] + rng.normal(size=400)], 1)
    ref = np.zeros((2, 2))
    for d in range(2):
        norm = np.max(np.abs(z[:, d] - z[:, d].mean()))
        for k in range(2):
            vals = np.unique(f[:, k])
            dev = [np.quantile(np.abs(z[f[:, k] == v, d] - z[f[:, k] == v, d].mean()), 0.99) for v in vals]
            ref[d, k] = 1 - np.mean(dev) / norm
    np.testing.assert_allclose(metrics.irs(z, f)["matrix"], ref, atol=1e-12)
    # 20 equal-width bins merge a 40-value factor's neighbours pairwise.
    f40 = np.random.default_rng(1).integers(0, 40, size=(2000, 1))
    z40 = f40 + np.random.default_rng(2).normal(size=(2000, 1))
    assert metrics.irs(z40, f40)["irs"] == pytest.approx(metrics.irs(z40, f40 // 2, num_factor_bins=None)["irs"], abs=1e-12)
    assert metrics.irs(z40, f40, num_factor_bins=None)["irs"] > metrics.irs(z40, f40)["irs"]


class FactorGrid(GroundTruthDataset):
    """A factor grid whose rendered 'image' of factors f is f itself as a float vector [K]."""

    def __init__(self, sizes):
        super().__init__(name="factor_grid", factor_names=[f"f{i}" for i in range(len(sizes))],
                         factor_sizes=sizes, image_shape=(len(sizes),))

    def render(self, factors):
        return jnp.asarray(factors).astype(jnp.float32)


def test_irs_score_samples_like_the_array_metric():
    ds, key = FactorGrid(tuple(int(s) for s in SIZES)), jax.random.PRNGKey(0)
    fn = lambda x: x[:, jnp.array(PERM)] * jnp.asarray(SCALE, jnp.float32) + 1.0
    s = metrics.irs_score(key, fn, ds, num_train=512, batch_size=128)
    codes, factors = metrics.sample_codes(key, fn, ds, 512, batch_size=128)
    assert s == {"irs": pytest.approx(metrics.irs(codes, factors)["irs"], abs=1e-12), "num_active_dims": K}
    assert s["irs"] == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------------------------------ DCI-ES


def test_explicitness_from_curve_closed_forms():
    # Running minimum (1, .5, .5, 0) on capacities (1, 2, 3, 5): area 0.75 + 0.5 + 0.5 = 1.75 of 4.
    assert metrics.explicitness_from_curve([1.0, 0.5, 0.8, 0.0], [1, 2, 3, 5]) == pytest.approx(1 - 1.75 / 4)
    assert metrics.explicitness_from_curve([0.0, 0.0], [1, 2]) == 1.0
    assert metrics.explicitness_from_curve([1.0, 1.0, 1.0], [1, 2, 4]) == 0.0
    # l* = 0.2: the area above l* over the rectangle (c_max - c_min)(1 - l*).
    assert metrics.explicitness_from_curve([0.6, 0.2], [0, 1], lowest_loss=0.2) == pytest.approx(1 - 0.2 / 0.8)


def _walk(forest, x, depth, classify):
    """A forest's prediction with every tree stopped after `depth` splits, by walking each path."""
    x = np.asarray(x, dtype=np.float32)  # trees compare float32 features with their thresholds
    per_tree = []
    for est in forest.estimators_:
        t, rows = est.tree_, []
        for xi in x:
            node = 0
            for _ in range(depth):
                if t.children_left[node] < 0:
                    break
                node = t.children_left[node] if xi[t.feature[node]] <= t.threshold[node] else t.children_right[node]
            rows.append(t.value[node, 0] / (t.value[node, 0].sum() if classify else 1.0))
        per_tree.append(rows)
    mean = np.mean(per_tree, axis=0)
    return forest.classes_[mean.argmax(1)] if classify else mean[:, 0]


@pytest.mark.parametrize("continuous", [False, True])
def test_loss_capacity_curves_cut_one_forest_at_each_depth(continuous):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    noise = np.random.default_rng(9).uniform(size=(900, K))
    z_tr, z_te = rotate01(C_TR, 30) + noise[:600], rotate01(C_TE, 30) + noise[600:]
    f_tr, f_te = (U_TR, U_TE) if continuous else (F_TR, F_TE)
    if continuous:
        z_tr, z_te = rotate01(U_TR, 30) + 0.1 * noise[:600, :3], rotate01(U_TE, 30) + 0.1 * noise[600:, :3]
    caps = (1, 2, 3, 5)
    losses, importances, _ = metrics.loss_capacity_curves(z_tr, f_tr, z_te, f_te, continuous_factors=continuous,
                                                          capacities=caps, seed=7)
    kind = RandomForestRegressor if continuous else RandomForestClassifier
    grow = lambda depth, t: kind(n_estimators=10, max_depth=depth, max_features=None, random_state=7).fit(z_tr, t)
    for k in range(f_tr.shape[1]):
        t_tr, t_te = f_tr[:, k], f_te[:, k]
        base = np.mean((t_te - t_tr.mean()) ** 2) if continuous else np.mean(t_te != np.bincount(t_tr).argmax())
        loss = (lambda p: np.mean((p - t_te) ** 2)) if continuous else (lambda p: np.mean(p != t_te))
        deep = grow(caps[-1], t_tr)  # the forest the curve is cut from: same seed, same trees
        for m, depth in enumerate(caps):
            assert losses[k, m] == pytest.approx(loss(_walk(deep, z_te, depth, not continuous)) / base, abs=1e-12)
        assert losses[k, -1] == pytest.approx(loss(deep.predict(z_te)) / base, abs=1e-12)
        np.testing.assert_allclose(importances[k, -1], deep.feature_importances_, atol=1e-12)
        # At the root every node is large, so no tied split: cutting is exactly growing to depth 1.
        stump = grow(1, t_tr)
        assert losses[k, 0] == pytest.approx(loss(stump.predict(z_te)) / base, abs=1e-12)
        np.testing.assert_allclose(importances[k, 0], stump.feature_importances_, atol=1e-12)


def test_dci_es_perfect_random_and_constant_codes():
    s = metrics.dci_es(C_TR, F_TR, C_TE, F_TE)
    assert s["disentanglement"] > 0.95 and s["completeness"] > 0.95
    assert s["informativeness"] == pytest.approx(1.0) and s["explicitness"] > 0.9 and s["size"] == 1.0
    r = np.random.default_rng(0).normal(size=(900, K))
    s = metrics.dci_es(r[:600], F_TR, r[600:], F_TE)
    # Normalised losses of noise stay near 1 (the majority baseline): I and E near 0.
    assert s["informativeness"] < 0.1 and s["explicitness"] < 0.1
    z = np.zeros((600, 2))
    s = metrics.dci_es(z, F_TR, z[:300], F_TE)
    # Each tree predicts the majority of its bootstrap sample, which can beat the training majority by luck.
    assert s["informativeness"] < 0.02 and s["explicitness"] < 0.02 and s["size"] == 2.0
    # A binary factor read off one dimension by a stump: the curve is 0 from the smallest capacity.
    b_tr, b_te = F_TR % 2, F_TE % 2
    s = metrics.dci_es(b_tr * 2.0, b_tr, b_te * 2.0, b_te, capacities=(1, 4))
    assert s["explicitness"] == 1.0 and s["capacity_at_min"] == [0.0] * K


def test_dci_es_duplicated_and_dropped_latent():
    full = metrics.dci_es(C_TR, F_TR, C_TE, F_TE)
    dup = metrics.dci_es(np.concatenate([C_TR, C_TR[:, :1]], 1), F_TR, np.concatenate([C_TE, C_TE[:, :1]], 1), F_TE)
    # Factor 2 (code column 0) can be read from either copy: its importance splits, completeness drops.
    assert dup["completeness"] < full["completeness"] - 0.08
    assert dup["disentanglement"] > 0.9 and dup["size"] == pytest.approx(K / (K + 1))
    drop = metrics.dci_es(C_TR[:, 1:], F_TR, C_TE[:, 1:], F_TE)
    assert drop["informativeness"] == pytest.approx((K - 1) / K, abs=0.05)
    # With l* = 0 the curve stays above its minimum: E_k <= I_k for every factor.
    assert np.all(np.array(drop["explicitness_per_factor"]) <= np.array(drop["informativeness_per_factor"]) + 1e-12)
    assert drop["explicitness"] < full["explicitness"] - 0.15
    assert drop["informativeness_per_factor"][2] < 0.2


def test_dci_es_affine_invariant_and_seeded():
    z_tr, z_te = rotate01(C_TR, 30), rotate01(C_TE, 30)
    a = metrics.dci_es(z_tr, F_TR, z_te, F_TE, seed=3)
    assert metrics.dci_es(z_tr, F_TR, z_te, F_TE, seed=3) == a
    b = metrics.dci_es(z_tr * 5.0 - 2.0, F_TR, z_te * 5.0 - 2.0, F_TE, seed=3)
    for key in ("disentanglement", "completeness", "informativeness", "explicitness"):
        assert b[key] == pytest.approx(a[key], abs=1e-9)


def test_dci_es_continuous_factors():
    s = metrics.dci_es(U_TR[:, [2, 0, 1]] * 4.0, U_TR, U_TE[:, [2, 0, 1]] * 4.0, U_TE, continuous_factors=True)
    assert s["informativeness"] > 0.95 and s["explicitness"] > 0.95 and s["disentanglement"] > 0.95
    # Rotating two factors into each other: still informative, but each probe needs both dimensions
    # (D and C drop) and more depth to carve the diagonal boundaries (E drops).
    rot = metrics.dci_es(rotate01(U_TR, 45), U_TR, rotate01(U_TE, 45), U_TE, continuous_factors=True)
    assert rot["informativeness"] > 0.95 and rot["disentanglement"] < 0.75 and rot["completeness"] < 0.75
    assert rot["explicitness"] < s["explicitness"] - 0.01
    # 1 - R^2 of a depth-12 forest on noise: informativeness near 0.
    r = np.random.default_rng(1).normal(size=(900, 3))
    s = metrics.dci_es(r[:600], U_TR, r[600:], U_TE, continuous_factors=True)
    assert s["informativeness"] < 0.1 and s["explicitness"] < 0.1
    # Mixed: one flag per factor, real values only where flagged.
    mixed_tr = np.concatenate([U_TR[:, :1], F_TR[:, :1]], 1)
    mixed_te = np.concatenate([U_TE[:, :1], F_TE[:, :1]], 1)
    s = metrics.dci_es(mixed_tr, mixed_tr, mixed_te, mixed_te, continuous_factors=[True, False], capacities=(2, 8))
    assert s["informativeness"] > 0.95


# ------------------------------------------------------------------------------------------ InfoMEC


def test_infomec_perfect_code_and_noise():
    s = metrics.infomec(C, F)
    assert s["infom"] > 0.99 and s["infoc"] > 0.99 and s["infoe"] > 0.95 and s["num_active"] == K
    s = metrics.infomec(NOISE, F)
    # Plug-in MI of independent columns is only bias, (bins - 1)(classes - 1) / 2N ~ 0.016 nats: NMI < 0.02.
    assert np.max(s["nmi"]) < 0.02 and s["infoe"] < 0.02
    # InfoM and InfoC of noise are ratios of those biases, not 0 (larger factors carry more bias).
    assert s["infom"] < 0.2 and s["infoc"] < 0.2


def test_infomec_duplicated_and_dropped_latent():
    dup = metrics.infomec(np.concatenate([C, C[:, :1]], 1), F)
    # Factor 2 split over two of 5 active latents: (1/2 - 1/5) / (1 - 1/5) = 3/8 for it, 1 for the others.
    assert dup["infoc"] == pytest.approx((3 + 3 / 8) / 4, abs=0.01)
    assert dup["infom"] > 0.99
    drop = metrics.infomec(C[:, 1:], F)
    assert drop["infoe"] == pytest.approx(3 / 4, abs=0.02)
    # The missing factor's column holds three noise NMIs, whose max/sum ratio is itself noise (~0.3 after
    # normalisation), so InfoC loses about 0.7 / 4, not the full quarter.
    assert drop["infoc"] < 0.9


def test_infomec_rotation_lowers_modularity_and_compactness():
    s = metrics.infomec(rotate01(F / (SIZES - 1), 45), F)
    assert s["infom"] < 0.85 and s["infoc"] < 0.85 and s["infoe"] > 0.95


def test_infomec_affine_invariant():
    z = rotate01(C, 20) + 0.3 * NOISE
    a, b = metrics.infomec(z, F), metrics.infomec(z * -3.0 + 4.0, F)
    for key in ("infom", "infoc", "infoe"):
        assert b[key] == pytest.approx(a[key], abs=1e-6)


def test_infomec_nmi_matches_sklearn_loop():
    z = rotate01(C, 20) + 0.3 * NOISE
    nmi = metrics.infomec_nmi(z, F, num_bins=10)
    for d in range(K):
        edges = np.histogram_bin_edges(z[:, d], bins=10)
        zd = np.digitize(z[:, d], edges[:-1])
        for k in range(K):
            assert nmi[d, k] == pytest.approx(mutual_info_score(zd, F[:, k]) / mutual_info_score(F[:, k], F[:, k]), abs=1e-12)
    # Quantile bins: equal counts per bin, ranks (not values) decide.
    q = metrics.infomec_nmi(np.exp(z), F, num_bins=10, binning="quantile")
    np.testing.assert_allclose(q, metrics.infomec_nmi(z, F, num_bins=10, binning="quantile"), atol=1e-12)


def test_infomec_continuous_factors_and_discrete_codes():
    u = np.random.default_rng(11).uniform(size=(3000, 3))
    s = metrics.infomec(u[:, [1, 2, 0]] * 5.0, u, continuous_factors=True)
    # Code and factor bins coincide (NMI 1 on the diagonal); 20 x 20 bins leave a plug-in bias of
    # 19^2 / 2N = 0.06 nats (NMI 0.02) off it, so InfoM = InfoC = (1/1.04 - 1/3) / (2/3) = 0.94.
    assert np.diag(np.array(s["nmi"])[[2, 0, 1]]) == pytest.approx(1.0)
    assert s["infom"] > 0.9 and s["infoc"] > 0.9 and s["infoe"] > 0.99
    s = metrics.infomec(rotate01(u, 45), u, continuous_factors=True)
    assert s["infom"] < 0.85 and s["infoc"] < 0.85
    # Quantised codes: each value its own bin; one code takes 2 values, so it cannot hold a 4-value factor.
    q = np.stack([F[:, 0], F[:, 1] // 2, F[:, 2], F[:, 3]], 1) - 1.0
    s = metrics.infomec(q, F, discrete_codes=True)
    assert np.array(s["nmi"])[1, 1] == pytest.approx(mutual_info_score(F[:, 1] // 2, F[:, 1]) / mutual_info_score(F[:, 1], F[:, 1]))
    assert s["infoe"] < 0.95 and s["infom"] > 0.99


def test_infomec_prunes_collapsed_latents_and_knn_is_seeded():
    z = np.concatenate([C, 0.001 * NOISE[:, :1]], 1)  # range far below 1/20 of the widest code
    s = metrics.infomec(z, F)
    assert s["active"] == [True] * K + [False] and s["infoc"] > 0.99
    a = metrics.infomec(C[:1000], F[:1000], estimator="knn", seed=4)
    assert a == metrics.infomec(C[:1000], F[:1000], estimator="knn", seed=4)
    assert a["infom"] > 0.9 and a["infoc"] > 0.9


# ----------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metrics.mcc(np.zeros(5), np.zeros((5, 1))), r"codes must have shape \[N, D\]"),
        (lambda: metrics.mcc(np.zeros((5, 2)), np.zeros((4, 1))), "factors must have shape"),
        (lambda: metrics.mcc(np.full((5, 2), np.nan), np.zeros((5, 1))), "codes contain NaN"),
        (lambda: metrics.mcc(np.zeros((5, 2)), np.full((5, 1), np.nan)), "factors contain NaN"),
        (lambda: metrics.mcc(C, F, correlation="kendall"), "unknown correlation 'kendall'; allowed: pearson, spearman"),
        (lambda: metrics.irs(C, F, diff_quantile=0.0), r"diff_quantile must be in \(0, 1\]"),
        (lambda: metrics.irs(C, F, nuisance="pairs"), "unknown nuisance estimator 'pairs'"),
        (lambda: metrics.irs(C[:10], F[:9]), "factors must have shape"),
        (lambda: metrics.irs(C, F + 0.5), "factors must be integer"),
        (lambda: metrics.dci_es(C_TR, F_TR + 0.5, C_TE, F_TE), "factors must be integer"),
        (lambda: metrics.dci_es(C_TR, F_TR, C_TE[:, :2], F_TE), "train and test disagree"),
        (lambda: metrics.dci_es(C_TR, F_TR, C_TE, F_TE, capacities=(4, 2)), "capacities must be at least 2 increasing"),
        (lambda: metrics.dci_es(C_TR, F_TR, C_TE, F_TE, continuous_factors=[True]), "continuous_factors must be a bool or 4 bools"),
        (lambda: metrics.infomec(C, F, binning="kmeans"), "unknown binning 'kmeans'"),
        (lambda: metrics.infomec(C, F, estimator="ksg"), "unknown estimator 'ksg'"),
        (lambda: metrics.infomec(C, np.zeros_like(F)), "needs at least one factor taking more than one value"),
    ],
)
def test_bad_inputs_are_one_line_value_errors(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
