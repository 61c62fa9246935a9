"""Thomas et al. (2018)'s independently controllable factors: the bilinear input and the stacked
policies against loops and separate networks, the ε-greedy behaviour and its importance weight by
hand, the rollout against env.step, the evaluation's correlations against numpy, and the method
through the loop, a resume, `disentax evaluate` and both variants."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli, methods
from disentax.data.registry import get_dataset
from disentax.envs import GridWorld
from disentax.errors import ConfigError
from disentax.methods import controllable_factors as cf
from disentax.models.controllable import StackedPolicies, TwoLayer, affine_bilinear, bilinear
from disentax.train.logging import read_json

from helpers import configure, straight_and_resumed, tiny_config

# ----------------------------------------------------------------------------- networks


def test_bilinear_equals_a_loop_over_pairs_and_broadcasts():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 1, 4)), rng.normal(size=(3, 5, 2))
    got = np.asarray(bilinear(jnp.asarray(a), jnp.asarray(b)))
    assert got.shape == (3, 5, 8)
    for i in range(3):
        for n in range(5):
            want = [a[i, 0, p] * b[i, n, q] for p in range(4) for q in range(2)]  # i-major
            np.testing.assert_allclose(got[i, n], want, rtol=1e-6)
    aff = np.asarray(affine_bilinear(jnp.asarray(a[:, 0]), jnp.asarray(b[:, 0])))  # (4 + 1)(2 + 1)
    a1 = np.concatenate([a[:, 0], np.ones((3, 1))], -1)
    b1 = np.concatenate([b[:, 0], np.ones((3, 1))], -1)
    np.testing.assert_allclose(aff, np.einsum("bi,bj->bij", a1, b1).reshape(3, 15), rtol=1e-6)
    assert np.all(aff[:, -1] == 1.0)


def test_stacked_policies_equal_k_separately_applied_networks():
    k, n_actions = 3, 5
    h = jax.random.normal(jax.random.PRNGKey(0), (4, k))
    stacked = StackedPolicies(k, n_actions, hidden=6)
    v = stacked.init(jax.random.PRNGKey(1), h)
    out = np.asarray(stacked.apply(v, h))
    assert out.shape == (4, k, n_actions)
    for j in range(k):
        pj = jax.tree.map(lambda a: a[j], v["params"]["policies"])
        np.testing.assert_allclose(out[:, j], np.asarray(TwoLayer(6, n_actions).apply({"params": pj}, h)), rtol=1e-5,
                                   atol=1e-6)
    # Separately initialised: no two policies share their numbers.
    kernels = np.asarray(v["params"]["policies"]["hidden"]["kernel"])
    assert not np.allclose(kernels[0], kernels[1])


def test_the_separate_variant_selects_policy_k_with_the_unit_factor():
    c = tiny_config("controllable_factors", **{"hp.variant": "separate", "hp.latent_dim": 3, "hp.ae_weight": 0.0})
    env = get_dataset(c.dataset)
    model = cf.build_model(c.controllable_factors, env)
    v = model.init(jax.random.PRNGKey(0), jnp.zeros((2, *env.observation_shape)), jnp.zeros((2, 2)))
    assert "generator" not in v["params"] and "factor_net" not in v["params"]
    h = jax.random.normal(jax.random.PRNGKey(1), (4, 3))
    every = model.apply(v, h, method=lambda m, h: m.policy_net(h))  # [4, K, A]
    for j in range(3):
        got = model.apply(v, h, jnp.broadcast_to(jnp.eye(3)[j], (4, 3)), method="policy")
        np.testing.assert_allclose(np.asarray(got), np.asarray(every[:, j]), rtol=1e-6)


# ----------------------------------------------------------------------------- the behaviour


def test_importance_weight_equals_pi_over_mu_by_hand():
    logits = jnp.array([[2.0, -1.0, 0.5, 0.0], [30.0, -30.0, 0.0, 0.0]])
    eps = 0.2
    log_mu = np.asarray(cf.behaviour_log_probs(logits, eps))
    pi = np.exp(np.asarray(logits, np.float64) - np.asarray(logits, np.float64).max(1, keepdims=True))
    pi /= pi.sum(1, keepdims=True)
    for row in range(2):
        for a in range(4):
            mu = (1 - eps) * pi[row, a] + eps / 4
            w = np.exp(float(jax.nn.log_softmax(logits[row])[a]) - log_mu[row, a])
            assert w == pytest.approx(pi[row, a] / mu, rel=1e-5)
            assert w <= 1 / (1 - eps) + 1e-6
    np.testing.assert_allclose(np.exp(log_mu).sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(cf.behaviour_log_probs(logits, 0.0)), np.asarray(jax.nn.log_softmax(logits)))


def test_epsilon_greedy_draws_from_the_behaviour():
    logits = jnp.broadcast_to(jnp.array([1.5, 0.0, -1.0]), (40_000, 3))
    eps = 0.3
    a = np.asarray(cf.epsilon_greedy(jax.random.PRNGKey(0), logits, eps))
    freq = np.bincount(a, minlength=3) / a.size
    np.testing.assert_allclose(freq, np.exp(np.asarray(cf.behaviour_log_probs(logits[0], eps))), atol=0.01)


def test_rollout_with_a_deterministic_policy_and_no_exploration_equals_env_step():
    env = GridWorld(actions="redundant")
    states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 5))
    plan = np.array([[0, 1, 2, 3, 5], [5, 5, 1, 1, 0], [2, 4, 4, 3, 1]])  # [T, B], every action used

    def policy(h, t):
        return 50.0 * jax.nn.one_hot(jnp.asarray(plan[t]), env.num_actions)  # saturated: π ≈ one-hot

    encode = lambda obs: obs.reshape(obs.shape[0], -1)[:, :2]  # noqa: E731
    out = cf.behaviour_rollout(jax.random.PRNGKey(1), env, states, encode, policy, 3, 0.0)
    np.testing.assert_array_equal(np.asarray(out["actions"]), plan)
    s, seen = states, [jax.vmap(env.render)(states)]
    for t in range(3):
        s = jax.vmap(env.step)(s, jnp.asarray(plan[t]))
        seen.append(jax.vmap(env.render)(s))
    np.testing.assert_array_equal(np.asarray(out["states"].position), np.asarray(s.position))
    np.testing.assert_array_equal(np.asarray(out["observations"]), np.asarray(jnp.stack(seen)))
    np.testing.assert_allclose(np.asarray(out["log_mu"]), 0.0, atol=1e-6)


def test_in_inference_mode_without_exploration_the_two_passes_agree():
    """Evaluation: the behaviour pass and the learning pass see the same encodings, so w = 1 exactly;
    in training (batch statistics per call) w corrects for their difference and stays finite."""
    c = tiny_config("controllable_factors", **{"hp.policy_steps": 2})
    env = get_dataset(c.dataset)
    method = methods.build(c, env)
    states = method.sample_batch(jax.random.PRNGKey(0), 8)
    v = method.scored_params(method.init_state(jax.random.PRNGKey(1), states))
    params, held = v["params"], {"batch_stats": v["batch_stats"]}
    run = lambda train, eps: cf._episode(method.model, c.controllable_factors, env, params, held, states,  # noqa: E731
                                         jax.random.PRNGKey(2), train=train, epsilon=eps)[0]
    out = run(False, 0.0)
    np.testing.assert_allclose(np.asarray(out["log_w"]), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out["log_pi"]), np.asarray(out["log_mu"]), atol=1e-5)
    train = run(True, 0.1)
    assert np.all(np.isfinite(np.asarray(train["log_w"]))) and np.all(np.isfinite(np.asarray(train["reward"])))
    assert out["actions"].shape == (2, 8) and out["phis"].shape == (8, 8, 2)


# ----------------------------------------------------------------------------- the evaluation


def test_correlation_report_equals_numpy():
    rng = np.random.default_rng(0)
    coords = rng.integers(0, 8, (200, 2)).astype(float)
    h = np.stack([-3.0 * coords[:, 1] + 0.01 * rng.normal(size=200), np.sin(coords[:, 0]), np.zeros(200)], 1)
    r = cf.correlation_report(h, coords, ("x", "y"))
    want = np.abs(np.corrcoef(np.concatenate([h[:, :2], coords], 1).T)[:2, 2:])
    np.testing.assert_allclose(np.asarray(r["abs_corr"])[:2], want, rtol=1e-9)
    assert r["abs_corr"][2] == [0.0, 0.0]  # a constant unit correlates with nothing
    assert r["best_factor"]["y"] == 0 and r["best_abs_corr"]["y"] > 0.999 and r["r2"]["y"] > 0.999
    fit = np.linalg.lstsq(np.c_[h, np.ones(200)], coords[:, 0], rcond=None)[0]
    resid = coords[:, 0] - np.c_[h, np.ones(200)] @ fit
    assert r["r2"]["x"] == pytest.approx(1 - resid @ resid / ((coords[:, 0] - coords[:, 0].mean()) ** 2).sum())


# ----------------------------------------------------------------------------- the method


def test_configs_hold_the_papers_settings_and_bad_values_are_one_line_errors():
    g = configure("controllable_factors_gridworld").controllable_factors
    assert (g.latent_dim, g.noise_dim, g.num_factors, g.kernel, g.policy_steps, g.variant) == \
        (2, 2, 256, "gaussian", 1, "shared")
    m = configure("controllable_factors_multistep_gridworld")
    assert (m.controllable_factors.policy_steps, m.controllable_factors.kernel) == (3, "projection")
    assert m.controllable_factors.model_weight > 0 and m.dataset == "gridworld"
    d = configure("controllable_factors_digit_gridworld")
    assert (d.controllable_factors.variant, d.controllable_factors.latent_dim, d.controllable_factors.ae_weight) == \
        ("separate", 4, 0.0)
    with pytest.raises(ConfigError, match="kernel"):
        configure("controllable_factors_gridworld", **{"hp.kernel": "cosine"})
    c = tiny_config("controllable_factors", dataset="planar")
    with pytest.raises(ConfigError, match="config.dataset must be one of gridworld"):
        methods.build(c, get_dataset("planar"))
    with pytest.raises(ConfigError, match="batch_size must be >= 2"):
        tiny_config("controllable_factors", batch_size=1)


def test_trains_resumes_exactly_and_evaluate_writes_the_evaluation(tmp_path, monkeypatch, capsys):
    c = tiny_config("controllable_factors")
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["selectivity"]) for r in rows)
    assert {"selectivity", "entropy", "greedy_fraction", "variation_norm", "reconstruction",
            "importance_weight"} <= set(rows[-1])
    stats = straight["state"].extra["model_state"]["batch_stats"]
    assert not np.allclose(stats["encoder"]["BatchNorm_0"]["var"], 1.0)
    assert sorted(p.name for p in straight["pictures"]) == ["factors.png", "lattice.png", "variations.png"]
    written = read_json(tmp_path / "straight" / "evaluation.json")
    assert written["states"] == 63 and written["correlation"]["columns"] == ["x", "y"]  # 8x8 cells, one wall
    assert sum(written["greedy_actions"]["counts"]) == 32
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "the representation metrics do not apply to method 'controllable_factors'" in out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["env"] == "gridworld_redundant"


@pytest.mark.parametrize("name", ["controllable_factors_multistep_gridworld", "controllable_factors_digit_gridworld"])
def test_the_other_configs_train_and_draw(name, tmp_path):
    from disentax.runner import loop

    c = tiny_config("controllable_factors")
    c = configure(name, **{k: v for k, v in {**dict(_tiny_items(c)), "num_steps": 2}.items()})
    result = loop.train(c, tmp_path)
    assert np.isfinite(float(result["metrics"]["loss"]))
    names = sorted(p.name for p in result["pictures"])
    if "multistep" in name:
        assert "predictions.png" in names and "model_loss" in result["metrics"]
    else:
        assert "lattice.png" not in names and len(result["evaluation"]["correlation"]["columns"]) == 4
        assert len(result["evaluation"]["greedy_actions"]["top_action"]) == 4


def _tiny_items(c):
    hp = c.controllable_factors
    yield from {"hp.channels": tuple(hp.channels), "hp.hidden": hp.hidden, "hp.num_factors": hp.num_factors,
                "hp.eval_states": hp.eval_states, "hp.eval_factors": hp.eval_factors, "batch_size": c.batch_size,
                "log_every": 1, "checkpoint_every": 2, "progress": False}.items()
