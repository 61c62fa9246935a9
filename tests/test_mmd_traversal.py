"""Larsson et al. (2018)'s sentiment manipulation by MMD traversal: Eq. 1 (biased and unbiased MMD)
and Eq. 2 (the witness) against explicit loops, the traversal objective's gradient against finite
differences, BFGS on closed-form minima, the traversal moving a code towards the target set, and
the method: its two training phases in one step, a resume, the config and `disentax evaluate`."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli, methods
from disentax.data.registry import get_dataset
from disentax.errors import ConfigError
from disentax.methods import mmd_traversal as mt
from disentax.objectives import mmd as M
from disentax.train.logging import read_json

from helpers import configure, same_leaves, straight_and_resumed, tiny_config

# ----------------------------------------------------------------------------- numpy references


def _k(a, b, sigma):
    return float(np.exp(-np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2) / (2.0 * sigma)))


def _mmd2_loops(x, y, sigma, unbiased):
    m, n = len(x), len(y)
    sxx = syy = sxy = 0.0
    for i in range(m):
        for j in range(m):
            if not (unbiased and i == j):
                sxx += _k(x[i], x[j], sigma)
    for i in range(n):
        for j in range(n):
            if not (unbiased and i == j):
                syy += _k(y[i], y[j], sigma)
    for i in range(m):
        for j in range(n):
            sxy += _k(x[i], y[j], sigma)
    if unbiased:
        return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)
    return sxx / m**2 + syy / n**2 - 2 * sxy / (m * n)


def _witness_loop(z, source, target, sigma):
    return (sum(_k(s, z, sigma) for s in source) / len(source)
            - sum(_k(t, z, sigma) for t in target) / len(target))


def _objective_np(delta, z, target, source, sigma, lam):
    v = np.concatenate([target, source, z[None]], 0).T.astype(np.float64)
    step = v @ delta
    return _witness_loop(z + step, source, target, sigma) + lam * float(step @ step)


def _clusters(seed=0, d=5, m=7, n=6, shift=1.0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=d) * shift
    return (rng.normal(size=(m, d)) + mu).astype(np.float32), (rng.normal(size=(n, d)) - mu).astype(np.float32), mu


# ----------------------------------------------------------------------------- Eq. 1 and Eq. 2


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("sigma", [0.05, 1.0, 3.0, 1e4])
def test_mmd2_equals_the_double_loop(unbiased, sigma):
    x, y, _ = _clusters(0, m=5, n=4)
    got = float(M.mmd2(jnp.asarray(x), jnp.asarray(y), sigma, unbiased=unbiased))
    want = _mmd2_loops(x, y, sigma, unbiased)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-6)


def test_mmd_extremes_and_signs():
    x, y, _ = _clusters(1, m=6, n=6)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    # the same sample: the biased estimate is 0, the unbiased one negative (diagonals left out)
    assert float(M.mmd2(xj, xj, 1.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(M.mmd2(xj, xj, 1.0, unbiased=True)) < 0
    # a tiny bandwidth: every kernel off the diagonal is 0, so MMD²_b = 1/m + 1/n and MMD²_u = 0
    np.testing.assert_allclose(float(M.mmd2(xj, yj, 1e-6)), 1 / 6 + 1 / 6, rtol=1e-6)
    assert float(M.mmd2(xj, yj, 1e-6, unbiased=True)) == pytest.approx(0.0, abs=1e-7)
    # far-apart samples: the cross term vanishes, MMD²_b = mean k(x, x') + mean k(y, y')
    far = y + 1e3
    kxx = np.mean([[_k(a, b, 1.0) for b in x] for a in x])
    kyy = np.mean([[_k(a, b, 1.0) for b in y] for a in y])
    np.testing.assert_allclose(float(M.mmd2(xj, jnp.asarray(far), 1.0)), kxx + kyy, rtol=1e-5)
    # Eq. 1 is the square root of the biased estimate, and is the mean difference of the
    # witness normalised to the RKHS unit ball: (mean f*(x) − mean f*(y)) / ‖f*‖_H = sqrt(MMD²_b)
    # with ‖f*‖²_H = MMD²_b.
    np.testing.assert_allclose(float(M.mmd(xj, yj, 0.7)) ** 2, _mmd2_loops(x, y, 0.7, False), rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2 samples"):
        M.mmd2(xj[:1], yj, 1.0, unbiased=True)


@pytest.mark.parametrize("sigma", [0.1, 2.0, 50.0])
def test_witness_equals_the_loop_and_its_means_give_the_biased_mmd(sigma):
    source, target, _ = _clusters(2)
    rng = np.random.default_rng(3)
    zs = rng.normal(size=(4, 5)).astype(np.float32)
    got = np.asarray(M.witness(jnp.asarray(zs), jnp.asarray(source), jnp.asarray(target), sigma))
    want = [_witness_loop(z, source, target, sigma) for z in zs]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    one = float(M.witness(jnp.asarray(zs[0]), jnp.asarray(source), jnp.asarray(target), sigma))
    assert one == pytest.approx(want[0], rel=1e-4, abs=1e-7)
    s, t = jnp.asarray(source), jnp.asarray(target)
    gap = float(jnp.mean(M.witness(s, s, t, sigma)) - jnp.mean(M.witness(t, s, t, sigma)))
    np.testing.assert_allclose(gap, float(M.mmd2(s, t, sigma)), rtol=1e-5, atol=1e-7)
    # at a source point far from the target set the witness is (nearly) 1/m + positive, at a target
    # point negative: the sign convention that makes minimising it move towards the target set
    assert float(M.witness(s[0], s, t + 100.0, 1.0)) > 0 > float(M.witness(t[0] + 100.0, s, t + 100.0, 1.0))


def test_median_heuristic_is_the_median_pairwise_squared_distance():
    x = np.random.default_rng(4).normal(size=(9, 3)).astype(np.float32)
    pairs = [np.sum((x[i].astype(np.float64) - x[j]) ** 2) for i in range(9) for j in range(i + 1, 9)]
    np.testing.assert_allclose(float(M.median_heuristic(jnp.asarray(x))), np.median(pairs), rtol=1e-5)
    v = np.asarray(M.traversal_basis(jnp.asarray(x[0]), jnp.asarray(x[1:4]), jnp.asarray(x[4:6])))
    np.testing.assert_array_equal(v, np.concatenate([x[1:4], x[4:6], x[:1]], 0).T)


# ----------------------------------------------------------------------------- the traversal


def test_traversal_objective_and_its_gradient_against_finite_differences():
    source, target, _ = _clusters(5, d=4, m=3, n=3)
    rng = np.random.default_rng(6)
    z = (source[0] + 0.1 * rng.normal(size=4)).astype(np.float32)
    sigma, lam = 3.0, 0.05
    with jax.enable_x64(True):
        args = (jnp.asarray(z, jnp.float64), jnp.asarray(target, jnp.float64), jnp.asarray(source, jnp.float64),
                sigma, lam)
        delta = rng.normal(size=7) * 0.2
        value = float(M.traversal_objective(jnp.asarray(delta), *args))
        grad = np.asarray(jax.grad(M.traversal_objective)(jnp.asarray(delta), *args))
    np.testing.assert_allclose(value, _objective_np(delta, z, target, source, sigma, lam), rtol=1e-10)
    eps = 1e-6
    fd = np.array([(_objective_np(delta + eps * e, z, target, source, sigma, lam)
                    - _objective_np(delta - eps * e, z, target, source, sigma, lam)) / (2 * eps) for e in np.eye(7)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-9)
    # float32, as the method runs it: the same gradient to float32 accuracy
    g32 = np.asarray(jax.grad(M.traversal_objective)(jnp.asarray(delta, jnp.float32), jnp.asarray(z),
                                                     jnp.asarray(target), jnp.asarray(source), sigma, lam))
    np.testing.assert_allclose(g32, fd, rtol=2e-3, atol=1e-5)


def test_bfgs_finds_the_minimum_of_a_quadratic():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(6, 6))
    a = a @ a.T + 0.5 * np.eye(6)
    b = rng.normal(size=6)
    x, value, nit = jax.jit(lambda a, b: M.bfgs_minimize(lambda x: 0.5 * x @ a @ x - b @ x, jnp.zeros(6), 100))(
        jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32))
    want = np.linalg.solve(a, b)
    np.testing.assert_allclose(np.asarray(x), want, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(float(value), -0.5 * b @ want, rtol=1e-4)
    assert 1 <= int(nit) <= 100


def test_traverse_reaches_the_linearised_closed_form_at_a_wide_kernel():
    """At σ ≫ the squared distances, k ≈ 1 − |x − z|²/(2σ), so f*(z) ≈ z·(μ_t − μ_s)/σ + const, and
    with the budget λ‖w‖² (w = Vδ, free in the span of V, which holds both means) the minimiser is
    w* = (μ_t − μ_s)/(2λσ): z* = z + (μ_t − μ_s)/(2λσ)."""
    source, target, _ = _clusters(8, d=5, m=6, n=5)
    z = source[0]
    sigma, lam = 1e3, 1e-3
    with jax.enable_x64(True):
        zs, delta = M.traverse(jnp.asarray(z, jnp.float64), jnp.asarray(target, jnp.float64),
                               jnp.asarray(source, jnp.float64), sigma, lam, maxiter=500, gtol=1e-12)
        zs = np.asarray(zs)
    want = z + (target.mean(0) - source.mean(0)) / (2 * lam * sigma)
    step = want - z
    np.testing.assert_allclose(zs - z, step, rtol=0, atol=2e-2 * np.linalg.norm(step))
    v = np.concatenate([target, source, z[None]], 0).T
    np.testing.assert_allclose(v @ np.asarray(delta), zs - z, rtol=1e-6, atol=1e-8)


def test_traverse_moves_codes_towards_the_target_set_and_lowers_the_witness():
    """Two clusters in 40 dims, the paper's λ = 7e-5, σ by the median heuristic, several source
    codes at once (vmapped): the witness falls from positive to negative, the objective at δ* is
    below its value at 0 and at nearby δ (a local minimum), and z* is closer to the target mean
    than to the source mean."""
    source, target, mu = _clusters(9, d=40, m=30, n=30, shift=0.5)
    rng = np.random.default_rng(10)
    zs0 = (rng.normal(size=(4, 40)) + mu).astype(np.float32)
    s, t = jnp.asarray(source), jnp.asarray(target)
    sigma = M.median_heuristic(jnp.concatenate([s, t]))
    zs, delta = jax.jit(lambda z: M.traverse(z, t, s, sigma, 7e-5))(jnp.asarray(zs0))
    before, after = np.asarray(M.witness(jnp.asarray(zs0), s, t, sigma)), np.asarray(M.witness(zs, s, t, sigma))
    assert np.all(before > 0) and np.all(after < 0) and np.all(after < before)
    zs = np.asarray(zs)
    assert np.all(np.linalg.norm(zs - target.mean(0), axis=1) < np.linalg.norm(zs - source.mean(0), axis=1))
    for i in range(4):
        obj = lambda d: float(M.traversal_objective(jnp.asarray(d, jnp.float32), jnp.asarray(zs0[i]), t, s,  # noqa: E731
                                                    sigma, 7e-5))
        d = np.asarray(delta[i])
        assert obj(d) < obj(np.zeros_like(d))
        # along the found direction the objective falls from δ = 0 to δ*
        path = [obj(a * d) for a in (0.0, 0.25, 0.5, 0.75, 1.0)]
        assert path[-1] == min(path)
        for _ in range(3):
            assert obj(d) <= obj(d + 1e-3 * rng.normal(size=d.shape)) + 1e-6


# ----------------------------------------------------------------------------- the method


def test_config_holds_the_papers_values():
    c = configure("mmd_traversal_sentiment_text")
    hp = c.mmd_traversal
    assert (c.dataset, c.batch_size) == ("sentiment_text", 64)
    assert (hp.embed_dim, tuple(hp.heights), hp.filters, hp.hidden) == (300, (1, 2, 3, 4), 75, 300)
    assert len(hp.heights) * hp.filters == 300  # the 300-d code z
    assert (hp.lam, hp.reference_per_class) == (7e-5, 90)
    assert 0 < hp.autoencoder_steps < c.num_steps
    with pytest.raises(ConfigError, match="mmd_traversal.lam_sweep"):
        configure("mmd_traversal_sentiment_text", **{"hp.lam_sweep": (1e-3, -1.0)})
    with pytest.raises(ConfigError, match="mmd_traversal.lam"):
        configure("mmd_traversal_sentiment_text", **{"hp.lam": -1.0})
    with pytest.raises(ConfigError, match="mmd_traversal.reference_per_class"):
        configure("mmd_traversal_sentiment_text", **{"hp.reference_per_class": 1})
    d = configure("mmd_traversal_sentiment_text", dataset="dsprites")
    with pytest.raises(ConfigError, match="sentiment_text"):
        methods.build(d, get_dataset(d.dataset))


def test_references_are_balanced_over_sentiment_and_topic():
    split = get_dataset("sentiment_text").split_arrays("train")
    rows = mt.reference_indices(jax.random.key(0), split, 90)
    assert rows.shape == (2, 90) and len(set(rows.ravel().tolist())) == 180
    for s in (0, 1):
        assert np.all(split["sentiment"][rows[s]] == s)
        assert np.bincount(split["topic"][rows[s]], minlength=3).tolist() == [30, 30, 30]
    assert np.array_equal(rows, mt.reference_indices(jax.random.key(0), split, 90))
    assert not np.array_equal(rows, mt.reference_indices(jax.random.key(1), split, 90))
    assert mt.reference_indices(jax.random.key(0), split, 7)[0].size == 7  # 3 + 2 + 2


def test_the_autoencoder_phase_leaves_the_classifier_untouched_then_the_sum_trains_it():
    c = tiny_config("mmd_traversal", **{"hp.autoencoder_steps": 1})
    method = methods.build(c, get_dataset(c.dataset))
    batch = jax.jit(lambda k: method.sample_batch(k, 8))(jax.random.key(0))
    s0 = method.init_state(jax.random.key(1), batch)
    step = jax.jit(method.train_step)
    s1, m1 = step(s0, batch, jax.random.key(2))
    s2, m2 = step(s1, batch, jax.random.key(3))
    # phase 1: the loss is the reconstruction alone and only the classifier is bit for bit unchanged
    assert float(m1["phase"]) == 1.0 and float(m1["loss"]) == float(m1["reconstruction"])
    assert same_leaves(s0.params["classifier"], s1.params["classifier"])
    for part in ("encoder", "decoder"):
        assert not same_leaves(s0.params[part], s1.params[part])
    # phase 2: the unweighted sum, and every network moves
    assert float(m2["phase"]) == 2.0
    np.testing.assert_allclose(float(m2["loss"]), float(m2["reconstruction"]) + float(m2["classification"]),
                               rtol=1e-6)
    for part in ("classifier", "encoder", "decoder"):
        assert not same_leaves(s1.params[part], s2.params[part])
    # the losses are the two cross-entropies computed by hand
    model, p = method.model, s1.params
    z, cl, logits = model.apply({"params": p}, batch["tokens"], batch["length"])
    lp = np.asarray(jax.nn.log_softmax(logits))
    tok, n = np.asarray(batch["tokens"]), np.asarray(batch["length"])
    rec = np.mean([-sum(lp[b, t, tok[b, t]] for t in range(n[b])) for b in range(8)])
    lc = np.asarray(jax.nn.log_softmax(cl))
    cls = np.mean([-lc[b, int(batch["sentiment"][b])] for b in range(8)])
    np.testing.assert_allclose(float(m2["reconstruction"]), rec, rtol=1e-5)
    np.testing.assert_allclose(float(m2["classification"]), cls, rtol=1e-5)
    assert z.shape == (8, 2 * 4)


def test_trains_resumes_exactly_across_the_phase_switch_and_evaluate_writes_the_evaluation(tmp_path, monkeypatch,
                                                                                            capsys):
    c = tiny_config("mmd_traversal")  # autoencoder_steps 2 of 4: the interruption is at the switch
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert [r["phase"] for r in rows] == [1.0, 2.0] and all(np.isfinite(r["loss"]) for r in rows)
    assert sorted(p.name for p in straight["pictures"]) == ["traversal_pca.png", "traversals.md"]
    table = (tmp_path / "straight" / "traversals.md").read_text()
    assert table.count("\n| ") == 1 + 3  # the header and 3 rows
    written = read_json(tmp_path / "straight" / "evaluation.json")
    assert written["step"] == 4 and written["paper_numbers"] is None and written["references_per_class"] == 6
    for row in ("traversal", "from_z"):
        got = written[row]
        assert got["num"] == 8
        for k in ("transfer_accuracy", "exact_transfer", "nouns_kept", "any_noun_kept"):
            assert 0.0 <= got[k] <= 1.0
        assert 0.0 <= got["bleu_source"] <= 100.0 and 0.0 <= got["bleu_reference"] <= 100.0
    assert 0.0 <= written["classifier_accuracy_on_z"] <= 1.0 and written["sigma"] > 0
    assert [r["lam"] for r in written["lam_sweep"]] == [1e-3] and written["lam_sweep"][0]["num"] == 8
    # a larger budget of change moves the codes less
    assert written["lam_sweep"][0]["relative_move"] <= written["relative_move"] + 1e-6
    assert written["witness_after"] <= written["witness_before"]
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "the representation metrics do not apply to method 'mmd_traversal'" in out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["lam"] == 7e-5
    assert read_json(tmp_path / "straight" / "evaluation.json")["seed"] == 3


def test_traversal_of_the_model_moves_codes_to_the_target_side():
    """The evaluation's own pipeline on an untrained tiny model: every traversed code's witness is
    at most the original's, and the decoded sentences are valid padded rows."""
    c = tiny_config("mmd_traversal")
    ds = get_dataset(c.dataset)
    method = methods.build(c, ds)
    batch = jax.jit(lambda k: method.sample_batch(k, 8))(jax.random.key(0))
    params = method.init_state(jax.random.key(1), batch).params
    trav = mt._Traversal(method.model, c.mmd_traversal, ds, params, jax.random.key(2))
    test = ds.split_arrays("test")
    tok, n, s = test["tokens"][:5], test["length"][:5], test["sentiment"][:5]
    rec = trav.run(tok, n, 1 - s)
    refs = trav.refs
    for i in range(5):
        t = 1 - int(s[i])
        before = float(M.witness(jnp.asarray(rec["z"][i]), refs[1 - t], refs[t], trav.sigma))
        after = float(M.witness(jnp.asarray(rec["z_star"][i]), refs[1 - t], refs[t], trav.sigma))
        assert after <= before + 1e-7
        v = np.asarray(M.traversal_basis(jnp.asarray(rec["z"][i]), refs[t], refs[1 - t]))
        np.testing.assert_allclose(rec["z_star"][i], rec["z"][i] + v @ rec["delta"][i], rtol=1e-4, atol=1e-5)
    assert rec["from_z_star"].shape == (5, ds.max_length) and rec["from_z_star"].dtype == np.int32
