"""Supervised embeddings (Ridgeway & Mozer 2018): the F-statistic loss against scipy's F
distribution and a loop over class pairs, the triplet loss against a loop over triplets, the
retrieval and AUC evaluations against brute force and sklearn, the identity batches and folds,
and the two methods trained a few steps."""
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import roc_auc_score

from disentax import config as cfg
from disentax.data import identities
from disentax.data.registry import get_dataset
from disentax.evaluation.retrieval import auc_per_dimension, best_dimension_auc, recall_at_k
from disentax.objectives.embedding import class_pair_separation, f_statistic_loss, triplet_loss
from disentax.runner import loop

from helpers import tiny_config

DS = get_dataset("identity_sprites")


def _classes(rng, sizes, dim, spread=1.0):
    """An embedding [N, dim] of len(sizes) classes with random means, and its labels."""
    labels = np.repeat(np.arange(len(sizes)), sizes)
    means = rng.normal(size=(len(sizes), dim)) * spread
    return means[labels] + rng.normal(size=(labels.size, dim)), labels


def _reference_loss(z, labels, d):
    """−Σ_pairs Σ_{top d} ln F(1, ñ).cdf(s), with s from scipy's one-way ANOVA, by loops."""
    total = 0.0
    classes = sorted(set(labels.tolist()))
    for a, b in itertools.combinations(classes, 2):
        za, zb = z[labels == a], z[labels == b]
        if len(za) + len(zb) - 2 < 1:
            continue
        logs = []
        for k in range(z.shape[1]):
            s = scipy.stats.f_oneway(za[:, k], zb[:, k]).statistic
            logs.append(scipy.stats.f(1, len(za) + len(zb) - 2).logcdf(s))
        total -= sum(sorted(logs, reverse=True)[:d])
    return total


@pytest.mark.parametrize("sizes", [(10, 10, 10, 10), (3, 7, 2, 5), (2, 1)])
def test_f_statistic_loss_is_scipys_f_cdf_over_the_best_dimensions_of_every_pair(sizes):
    rng = np.random.default_rng(len(sizes) + sum(sizes))
    z, labels = _classes(rng, sizes, 6, spread=0.7)
    with jax.enable_x64(True):
        for d in (1, 2, 6):
            loss, aux = f_statistic_loss(jnp.asarray(z), jnp.asarray(labels), len(sizes), d)
            np.testing.assert_allclose(float(loss), _reference_loss(z, labels, d), rtol=1e-9)
            assert int(aux["num_pairs"]) == len(list(itertools.combinations(range(len(sizes)), 2)))


def test_f_statistic_log_probability_at_extreme_separations_matches_scipy():
    # Two classes of 10 on 3 dimensions: means apart by 1e-6, 1 and 1e4 within-class spreads.
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 10, 3))
    base = (base - base.mean(1, keepdims=True)).reshape(20, 3)  # each class's noise centred: equal means
    labels = np.repeat([0, 1], 10)
    z = base + np.array([1e-6, 1.0, 1e4]) * (labels[:, None] - 0.5)
    with jax.enable_x64(True):
        log_pr, valid = class_pair_separation(jnp.asarray(z), jnp.asarray(labels), 2)
    expected = [scipy.stats.f(1, 18).logcdf(scipy.stats.f_oneway(z[:10, k], z[10:, k]).statistic) for k in range(3)]
    assert bool(valid[0, 1]) and not bool(valid[1, 0]) and not bool(valid[0, 0])
    # Both tails: ln Pr ≈ −13 where the means nearly meet, ≈ −1e-71 (0 here) where they are far apart.
    np.testing.assert_allclose(np.asarray(log_pr[0, 1]), expected, rtol=1e-8, atol=1e-12)
    assert expected[0] < -10 and expected[2] > -1e-12


def test_f_statistic_ignores_out_of_range_labels_and_absent_classes():
    rng = np.random.default_rng(1)
    z, labels = _classes(rng, (4, 4, 4), 5)
    padded_z = np.concatenate([z, rng.normal(size=(3, 5)) * 100])
    padded = np.concatenate([labels, [-1, 7, 3]])  # 3 is a class index with no member: absent
    with jax.enable_x64(True):
        ref, _ = f_statistic_loss(jnp.asarray(z), jnp.asarray(labels), 3, 2)
        got, aux = f_statistic_loss(jnp.asarray(padded_z), jnp.asarray(np.where(padded == 3, 99, padded)), 5, 2)
    np.testing.assert_allclose(float(got), float(ref), rtol=1e-12)
    assert int(aux["num_pairs"]) == 3


def test_f_statistic_loss_and_gradient_are_finite_at_the_extremes():
    labels = jnp.repeat(jnp.arange(3), 4)
    cases = {
        "identical classes": jnp.zeros((12, 4)),
        "no within-class spread": jnp.repeat(jnp.arange(3.0)[:, None] * jnp.ones(4), 4, 0),
        "huge scale": jax.random.normal(jax.random.PRNGKey(0), (12, 4)) * 1e15,
        "tiny scale": jax.random.normal(jax.random.PRNGKey(1), (12, 4)) * 1e-30,
        "tiny spread on a large offset": 1e4 + jax.random.normal(jax.random.PRNGKey(2), (12, 4)) * 1e-2,
        "one class far": jnp.zeros((12, 4)).at[:4].set(1e6),
    }
    for name, z in cases.items():
        loss, g = jax.value_and_grad(lambda z: f_statistic_loss(z, labels, 3, 2)[0])(z)
        assert np.isfinite(float(loss)) and np.all(np.isfinite(np.asarray(g))), name
    # Perfectly separated classes cost nothing; coinciding ones a lot.
    assert float(f_statistic_loss(cases["no within-class spread"], labels, 3, 2)[0]) < 1e-5
    assert float(f_statistic_loss(cases["identical classes"], labels, 3, 2)[0]) > 100


def test_f_statistic_gradient_pulls_apart_the_best_separated_dimensions_only():
    # Dimension 0 separates the two classes a little, dimension 1 not at all; with d = 1 the loss
    # only sees dimension 0, and descending it moves the class means apart there.
    rng = np.random.default_rng(2)
    z = rng.normal(size=(20, 2)) * 0.5
    labels = np.repeat([0, 1], 10)
    z[:, 0] += 0.8 * labels
    z[:, 1] -= z[labels == 1, 1].mean() * labels - z[labels == 0, 1].mean() * (1 - labels)  # equal means
    g = np.asarray(jax.grad(lambda z: f_statistic_loss(z, jnp.asarray(labels), 2, 1)[0])(jnp.asarray(z, jnp.float32)))
    assert np.all(g[:, 1] == 0)
    assert g[labels == 1, 0].sum() < 0 < g[labels == 0, 0].sum()  # −grad raises class 1, lowers class 0


def test_f_statistic_loss_jits_and_vmaps():
    rng = np.random.default_rng(3)
    zs = jnp.asarray(np.stack([_classes(rng, (5, 5, 5), 4)[0] for _ in range(3)]), jnp.float32)
    labels = jnp.repeat(jnp.arange(3), 5)
    fn = jax.jit(jax.vmap(lambda z: f_statistic_loss(z, labels, 3, 2)[0]))
    np.testing.assert_allclose(np.asarray(fn(zs)), [float(f_statistic_loss(z, labels, 3, 2)[0]) for z in zs],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="d must be in"):
        f_statistic_loss(zs[0], labels, 3, 5)


def _reference_triplet(z, labels, margin):
    hinges = []
    n = len(labels)
    for a, p, q in itertools.product(range(n), repeat=3):
        if a != p and labels[a] == labels[p] and labels[q] != labels[a] and min(labels[a], labels[q]) >= 0:
            hinges.append(max(0.0, np.linalg.norm(z[a] - z[p]) - np.linalg.norm(z[a] - z[q]) + margin))
    return np.mean(hinges), len(hinges), np.mean(np.array(hinges) > 0)


def test_triplet_loss_is_the_mean_hinge_over_every_valid_triplet():
    rng = np.random.default_rng(4)
    z, labels = _classes(rng, (3, 4, 2), 3, spread=1.5)
    labels = labels.copy()
    labels[-1] = -1  # ignored
    with jax.enable_x64(True):
        loss, aux = triplet_loss(jnp.asarray(z), jnp.asarray(labels), 0.7)
    ref, count, active = _reference_triplet(z, labels, 0.7)
    np.testing.assert_allclose(float(loss), ref, rtol=1e-10)
    assert int(aux["num_triplets"]) == count and abs(float(aux["active_fraction"]) - active) < 1e-12
    # Coinciding points: finite gradient (the distance's sqrt is guarded at zero).
    g = jax.grad(lambda z: triplet_loss(z, jnp.asarray([0, 0, 1, 1]), 1.0)[0])(jnp.zeros((4, 3)))
    assert np.all(np.isfinite(np.asarray(g)))


def test_recall_at_k_matches_a_loop_over_queries():
    rng = np.random.default_rng(5)
    z, labels = _classes(rng, (4, 4, 4, 4, 1), 3, spread=0.8)
    got = recall_at_k(z, labels, ks=(1, 2, 5))
    for k in (1, 2, 5):
        hits = 0
        for q in range(len(labels)):
            d = [(np.sum((z[q] - z[j]) ** 2), j) for j in range(len(labels)) if j != q]
            hits += any(labels[j] == labels[q] for _, j in sorted(d)[:k])
        assert got[k] == pytest.approx(hits / len(labels))
    assert got[1] <= got[2] <= got[5] < 1  # the singleton class can never be found
    with pytest.raises(ValueError, match="each k must be in"):
        recall_at_k(z, labels, ks=(len(labels),))


def test_auc_per_dimension_is_sklearns_roc_auc_with_ties():
    rng = np.random.default_rng(6)
    z = np.round(rng.normal(size=(200, 4)), 1)  # many ties
    pos = rng.random(200) < 0.3
    z[:, 2] += 2 * pos
    got = auc_per_dimension(z, pos)
    np.testing.assert_allclose(got, [roc_auc_score(pos, z[:, k]) for k in range(4)], rtol=1e-12)


def test_best_dimension_auc_finds_the_dimension_aligned_with_each_value():
    rng = np.random.default_rng(7)
    f = np.stack([rng.integers(0, 3, 500), rng.integers(0, 2, 500)], 1)
    z = rng.normal(size=(500, 5)) * 0.1
    z[:, 3] -= (f[:, 0] == 1)  # value 1 of the first attribute sits low on dimension 3
    z[:, 0] += f[:, 1]
    out = best_dimension_auc(z, f, ["a", "b"], [3, 2])
    assert list(out) == ["a=0", "a=1", "a=2", "b=0"]  # a two-valued attribute counts once
    assert out["a=1"]["dimension"] == 3 and out["a=1"]["auc"] > 0.99
    assert out["b=0"]["dimension"] == 0 and out["b=0"]["auc"] > 0.99
    assert 0.5 <= out["a=0"]["auc"] < 0.9


def test_identity_folds_partition_the_identities():
    folds = identities.identity_folds(5, seed=3)
    assert sorted(len(f) for f in folds) == [10, 11, 11, 11, 11]
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(54))
    assert all(np.array_equal(a, b) for a, b in zip(folds, identities.identity_folds(5, seed=3)))
    with pytest.raises(ValueError, match="num_folds"):
        identities.identity_folds(1)


def test_identity_batches_hold_k_distinct_allowed_identities_with_m_images_each():
    allowed = identities.identity_folds(5)[1]
    b = jax.jit(lambda k: identities.sample_identity_batch(DS, k, 6, 3, identities=allowed))(jax.random.PRNGKey(0))
    ids = np.asarray(b["identity"]).reshape(6, 3)
    assert np.all(ids == ids[:, :1]) and len(set(ids[:, 0])) == 6 and set(ids[:, 0]) <= set(allowed.tolist())
    assert np.array_equal(np.asarray(b["labels"]), np.repeat(np.arange(6), 3))
    np.testing.assert_array_equal(np.asarray(DS.identity_of(b["factors"])), np.asarray(b["identity"]))
    np.testing.assert_array_equal(np.asarray(b["x"]), np.asarray(DS.render(b["factors"])))
    with pytest.raises(ValueError, match="at least 12 identities"):
        identities.sample_identity_batch(DS, jax.random.PRNGKey(0), 12, 2, identities=allowed)


@pytest.mark.parametrize("name", ["f_statistic", "triplet"])
def test_embedding_methods_train_and_evaluate_on_held_out_identities(name, tmp_path):
    c = tiny_config(name)  # 4 identities x 3 images per batch, 4 images per identity evaluated
    loop.train(c, tmp_path)
    ev = json.loads((tmp_path / "evaluation.json").read_text())
    held = identities.identity_folds(5)[0]
    assert ev["held_out_identities"] == held.tolist()
    assert set(ev["recall_at_k"]) == {"1", "2", "4", "8"}
    assert all(0 <= v <= 1 for v in ev["recall_at_k"].values())
    assert len(ev["best_dimension_auc"]) == 12 and 0.5 <= ev["best_dimension_auc_min"] <= 1
    assert (tmp_path / "retrieval.png").exists() and (tmp_path / "dimension_auc.png").exists()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in rows if "loss" in r)


def test_embedding_config_errors_are_one_line():
    with pytest.raises(cfg.ConfigError, match="config.f_statistic.identities_per_batch must be a divisor"):
        cfg.get("f_statistic_identity_sprites", ["--config.batch_size=100"])
    with pytest.raises(cfg.ConfigError, match="config.f_statistic.d must be <= config.model.latent_dim"):
        cfg.get("f_statistic_identity_sprites", ["--config.f_statistic.d=23"])
    with pytest.raises(cfg.ConfigError, match="needs config.dataset='identity_sprites'"):
        c = cfg.get("f_statistic_identity_sprites", ["--config.dataset=dsprites"])
        from disentax import methods
        methods.build(c, get_dataset("dsprites"))


def test_f_statistic_loss_is_invariant_to_shifting_and_scaling_a_dimension():
    rng = np.random.default_rng(8)
    z, labels = _classes(rng, (5, 5, 5), 3)
    a, b = np.array([1e-3, 2.0, 5e3]), np.array([7.0, -3.0, 1e5])
    with jax.enable_x64(True):
        fn = jax.value_and_grad(lambda z: f_statistic_loss(z, jnp.asarray(labels), 3, 2)[0])
        (l1, g1), (l2, g2) = fn(jnp.asarray(z)), fn(jnp.asarray(a * z + b))
    np.testing.assert_allclose(float(l2), float(l1), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g2) * a, np.asarray(g1), rtol=1e-7, atol=1e-12)
