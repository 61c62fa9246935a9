"""Banijamali et al. (2018)'s dynamics/content model on the planar system: the fixed pools, Eq. 6's
prior inside a training batch (its input and its stopped gradient), the receding-horizon planner on a
known linear latent model, Eq. 7 and the success test by hand, and the method through the loop, a
resume and `disentax evaluate`."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli, methods
from disentax.data.registry import get_dataset
from disentax.envs.planar import PlanarState, PlanarSystem
from disentax.errors import ConfigError
from disentax.methods import dynamics_content as dc
from disentax.objectives.controllable_embedding import aligned_kl, invert_transition, locally_linear
from disentax.train.logging import read_json

from helpers import configure, straight_and_resumed, tiny_config


@pytest.fixture(scope="module")
def envs():
    return dc.views(PlanarSystem("disc"))


# ----------------------------------------------------------------------------- data


def test_views_are_the_two_agent_shapes_and_other_data_is_refused(envs):
    env_x, env_y = envs
    assert (env_x.agent_shape, env_y.agent_shape) == ("disc", "cross")
    assert dc.views(PlanarSystem("cross"))[1].agent_shape == "disc"
    with pytest.raises(ConfigError, match="config.dataset must be planar or planar_y"):
        dc.views(get_dataset("dsprites"))


def test_the_pools_are_fixed_and_consistent_with_the_simulator(envs):
    env_x, env_y = envs
    x_example, y_example, sample_batch = dc.make_pools(env_x, env_y, 3, 50, 20)
    idx = jnp.arange(50)
    a, b = jax.jit(jax.vmap(x_example))(idx), jax.jit(jax.vmap(x_example))(idx)
    assert all(np.array_equal(a[k], b[k]) for k in a)  # example i is the same on every call
    assert np.all(np.abs(np.asarray(a["u_t"])) <= env_x.action_bound)
    assert np.std(np.asarray(a["u_t"])) > 0.5  # spread over the box
    for i in range(0, 50, 7):
        s = PlanarState(position=a["s_t"][i])
        assert bool(env_x.is_free(s.position))
        nxt = env_x.step(s, a["u_t"][i])
        np.testing.assert_array_equal(np.asarray(a["s_next"][i]), np.asarray(nxt.position))
        np.testing.assert_array_equal(np.asarray(a["x_t"][i]), np.asarray(env_x.render(s)))
        np.testing.assert_array_equal(np.asarray(a["x_next"][i]), np.asarray(env_x.render(nxt)))
    ys = jax.vmap(y_example)(jnp.arange(20))
    for j in range(0, 20, 5):  # y and its X-view show one state
        s = PlanarState(position=ys["s"][j])
        np.testing.assert_array_equal(np.asarray(ys["y"][j]), np.asarray(env_y.render(s)))
        np.testing.assert_array_equal(np.asarray(ys["y_x"][j]), np.asarray(env_x.render(s)))
    assert not np.array_equal(np.asarray(ys["y"][0]), np.asarray(ys["y_x"][0]))
    # A batch is rows of the pools, drawn with replacement, and a pure function of its key.
    batch = sample_batch(jax.random.PRNGKey(0), 16)
    assert {k: v.shape[0] for k, v in batch.items()} == dict.fromkeys(("x_t", "u_t", "x_next", "y", "y_x"), 16)
    for row in range(16):
        hit = np.flatnonzero(np.all(np.asarray(a["u_t"]) == np.asarray(batch["u_t"][row]), -1))
        assert hit.size == 1 and np.array_equal(np.asarray(a["x_next"][hit[0]]), np.asarray(batch["x_next"][row]))
    again = sample_batch(jax.random.PRNGKey(0), 16)
    assert all(np.array_equal(batch[k], again[k]) for k in batch)
    # Another seed, another pool.
    other = dc.make_pools(env_x, env_y, 4, 50, 20)[0](jnp.int32(0))
    assert not np.array_equal(np.asarray(other["u_t"]), np.asarray(a["u_t"][0]))


# ----------------------------------------------------------------------------- Eq. 6 in a batch


@pytest.mark.parametrize("stop", [True, False])
def test_the_prior_of_v_is_the_encoder_posterior_of_the_paired_x_view(envs, stop):
    env_x, env_y = envs
    model = dc.DynamicsContent(image_shape=(40, 40, 1), encoder_hidden=(16,), decoder_hidden=(16,),
                               transition_hidden=(16,), backward_hidden=(16,))
    batch = dc.make_pools(env_x, env_y, 0, 64, 32)[2](jax.random.PRNGKey(1), 8)
    params = model.init(jax.random.PRNGKey(2), batch["x_t"][:1], batch["u_t"][:1])["params"]
    key = jax.random.PRNGKey(3)

    def terms(y_x):
        return dc.batch_elbo(model, params, {**batch, "y_x": y_x}, key, content_mean=1.0, stop_prior_gradient=stop)

    _, aux = terms(batch["y_x"])
    v_mean, v_logvar, _, _ = model.apply({"params": params}, batch["y"], method="encode")
    p_mean, p_logvar, _, _ = model.apply({"params": params}, batch["y_x"], method="encode")
    np.testing.assert_allclose(float(aux["kl_v"]), float(aligned_kl(v_mean, v_logvar, p_mean, p_logvar).mean()),
                               rtol=1e-5)
    # y_x enters the loss only through Eq. 6's prior: no gradient reaches it when the prior is stopped.
    grad = np.asarray(jax.grad(lambda y_x: terms(y_x)[0])(batch["y_x"]))
    assert np.all(grad == 0) if stop else np.any(grad != 0)
    # The encoder learns from the prior side only when it is not stopped: compare with a batch whose
    # prior input is replaced by the gradient-free value of the same images.
    g_enc = jax.grad(lambda p: dc.batch_elbo(model, p, batch, key, content_mean=1.0,
                                             stop_prior_gradient=stop)[1]["kl_v"])(params)
    g_v_only = jax.grad(lambda p: aligned_kl(*model.apply({"params": p}, batch["y"], method="encode")[:2], p_mean,
                                             p_logvar, stop_prior_gradient=True).mean())(params)
    same = all(np.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(jax.tree.leaves(g_enc),
                                                                      jax.tree.leaves(g_v_only)))
    assert same == stop


@pytest.mark.parametrize("content_from", ["other", "x_t", "x_next"])
def test_each_content_posterior_reads_the_image_it_is_configured_to(envs, content_from):
    """w_x's KL is that of the encoder's content posterior of x_t of the previous example ("other"),
    of x_t, or of x_{t+1}; w_y's of the previous example's y ("other") or of y itself."""
    from disentax.objectives.controllable_embedding import gaussian_kl

    env_x, env_y = envs
    model = dc.DynamicsContent(image_shape=(40, 40, 1), encoder_hidden=(16,), decoder_hidden=(16,),
                               transition_hidden=(16,), backward_hidden=(16,))
    batch = dc.make_pools(env_x, env_y, 0, 64, 32)[2](jax.random.PRNGKey(1), 6)
    params = model.init(jax.random.PRNGKey(2), batch["x_t"][:1], batch["u_t"][:1])["params"]
    _, aux = dc.batch_elbo(model, params, batch, jax.random.PRNGKey(3), content_mean=1.0, stop_prior_gradient=True,
                           content_from=content_from)
    enc = lambda x: model.apply({"params": params}, x, method="encode")  # noqa: E731
    wx_image = batch["x_next"] if content_from == "x_next" else batch["x_t"]
    roll = (lambda a: np.roll(np.asarray(a), 1, axis=0)) if content_from == "other" else np.asarray  # noqa: E731
    _, _, wxm, wxl = enc(wx_image)
    _, _, wym, wyl = enc(batch["y"])
    np.testing.assert_allclose(float(aux["kl_w_x"]), float(gaussian_kl(roll(wxm), roll(wxl), -1.0, 0.0).mean()),
                               rtol=1e-5)
    np.testing.assert_allclose(float(aux["kl_w_y"]), float(gaussian_kl(roll(wym), roll(wyl), 1.0, 0.0).mean()),
                               rtol=1e-5)
    # Row by row: example b's content is example b - 1's (the means of a batch cannot tell a roll).
    heads = [np.arange(8.0).reshape(4, 2) + 10 * i for i in range(4)]
    rows = dc.content_rows(heads, [h + 0.5 for h in heads], content_from)
    src = 0 if content_from == "x_next" else 1
    shift = 1 if content_from == "other" else 0
    for got, want in zip(rows, (heads[src], heads[src] + 0.5, heads[2], heads[2] + 0.5)):
        np.testing.assert_array_equal(np.asarray(got), np.roll(want, shift, axis=0))


def test_the_inverted_z_t_maps_back_to_the_sampled_next_latent(envs):
    """Eq. 3's δ inside the batch: A(z̄)z_t + B(z̄)u + c(z̄) equals the sampled ẑ_{t+1}."""
    env_x, env_y = envs
    model = dc.DynamicsContent(image_shape=(40, 40, 1), encoder_hidden=(16,), decoder_hidden=(16,),
                               transition_hidden=(16,), backward_hidden=(16,))
    batch = dc.make_pools(env_x, env_y, 0, 64, 32)[2](jax.random.PRNGKey(4), 8)
    params = model.init(jax.random.PRNGKey(5), batch["x_t"][:1], batch["u_t"][:1])["params"]
    z_bar = jax.random.normal(jax.random.PRNGKey(6), (8, 2))
    z_next = jax.random.normal(jax.random.PRNGKey(7), (8, 2))
    a, a_inv, b, c = model.apply({"params": params}, z_bar, method="linearise")
    z_t = invert_transition(a, b, c, z_next, batch["u_t"], A_inverse=a_inv)
    np.testing.assert_allclose(np.asarray(locally_linear(a, b, c, z_t, batch["u_t"])), np.asarray(z_next), atol=1e-5)
    pred = model.apply({"params": params}, z_bar, batch["u_t"], method="predict")
    np.testing.assert_allclose(np.asarray(pred), np.asarray(locally_linear(a, b, c, z_bar, batch["u_t"])), atol=1e-6)


# ----------------------------------------------------------------------------- planning


def test_planning_loss_and_success_by_hand():
    rng = np.random.default_rng(0)
    pos, act, goal = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)), rng.normal(size=2)
    q, r = np.array([[2.0, 0.3], [0.3, 1.0]]), 0.1 * np.eye(2)
    want = sum((pos[t] - goal) @ q @ (pos[t] - goal) + act[t - 1] @ r @ act[t - 1] for t in range(1, 6))
    got = dc.planning_loss(*(jnp.asarray(a, jnp.float32) for a in (pos, act, goal)), Q=jnp.asarray(q, jnp.float32),
                           R=jnp.asarray(r, jnp.float32))
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    g = jnp.zeros(2)
    path = lambda *d: jnp.asarray([[x, 0.0] for x in d])  # noqa: E731
    assert bool(dc.success(path(5, 3, 1, 0.5, 0.2), g, 1.0))
    assert not bool(dc.success(path(5, 0.5, 3, 0.5, 0.2), g, 1.0))  # left the disc after reaching it
    assert not bool(dc.success(path(5, 4, 3, 2, 1.5), g, 1.0))  # never reached
    assert bool(dc.success(path(0.0, 0.0), g, 1.0))


def test_receding_horizon_reaches_the_goal_with_a_known_linear_latent_model(envs):
    """Identity encoder on coordinates (scaled) and the exact latent model z' = z + u / size: the MPC
    loop drives the TRUE planar system from a free start to a goal in sight, and Eq. 7 on its path is
    the hand sum."""
    env_x, _ = envs
    size, bound = float(env_x.size), env_x.action_bound
    observe = lambda s: s.position / size  # noqa: E731
    dynamics = lambda z, u: z + u / size  # noqa: E731
    starts = jnp.asarray([[4.0, 37.0], [36.0, 37.0]])
    goals = jnp.asarray([[22.0, 37.0], [36.0, 20.0]])  # along the free bottom / right edges
    between = starts[:, None] + jnp.linspace(0, 1, 50)[:, None] * (goals - starts)[:, None]
    assert bool(jnp.all(env_x.is_free(between)))  # the straight line is free
    q = jnp.eye(2)

    @jax.jit
    def run(s0, g):
        return dc.receding_horizon(observe, env_x.step, dynamics, PlanarState(position=s0), g / size,
                                   jnp.zeros((10, 2)), steps=12, Q=q, R=1e-4 * jnp.eye(2), Qf=10 * q, iterations=3,
                                   u_bound=bound)

    states, actions = jax.vmap(run)(starts, goals)
    pos = np.asarray(states.position)
    assert pos.shape == (2, 13, 2) and actions.shape == (2, 12, 2)
    assert np.all(np.abs(np.asarray(actions)) <= bound + 1e-6)
    final = np.linalg.norm(pos[:, -1] - np.asarray(goals), axis=-1)
    assert np.all(final < 0.1), final
    for i in range(2):
        assert bool(dc.success(jnp.asarray(pos[i]), goals[i], 2.0))
        # 17-18 px at <= 2 px a step: the first steps go at the bound, straight at the goal.
        np.testing.assert_allclose(np.abs(np.asarray(actions[i, 0])).max(), bound, rtol=1e-4)
        j = dc.planning_loss(jnp.asarray(pos[i]) / size, actions[i] / bound, goals[i] / size, Q=q, R=0.01 * q)
        want = sum(np.sum((pos[i, t] / size - np.asarray(goals[i]) / size) ** 2)
                   + 0.01 * np.sum((np.asarray(actions[i, t - 1]) / bound) ** 2) for t in range(1, 13))
        np.testing.assert_allclose(float(j), want, rtol=1e-5)


# ----------------------------------------------------------------------------- the method


def test_config_holds_the_papers_values():
    c = configure("dynamics_content_planar")
    hp = c.dynamics_content
    assert (c.dataset, hp.x_examples, hp.y_examples, hp.plan_runs) == ("planar", 8000, 2000, 20)
    assert (tuple(hp.encoder_hidden), tuple(hp.transition_hidden), hp.z_dim) == ((150, 150), (100, 100), 2)
    assert hp.stop_prior_gradient is True and hp.content_prior_mean > 0
    with pytest.raises(ConfigError, match="dynamics_content.plan_runs"):
        configure(c, **{"hp.plan_runs": 0})


def test_trains_resumes_exactly_and_evaluate_writes_the_evaluation(tmp_path, monkeypatch, capsys):
    c = tiny_config("dynamics_content")
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["kl_v"]) and np.isfinite(r["log_p_z_t"]) for r in rows)
    assert sorted(p.name for p in straight["pictures"]) == ["latent_map.png", "plans.png", "predictions.png"]
    written = read_json(tmp_path / "straight" / "evaluation.json")
    assert written["step"] == 4 and written["plan_runs"] == 2
    for name in ("x", "y"):
        got = written[name]
        assert {"reconstruction", "prediction", "corners", "random"} <= set(got)
        assert got["reconstruction"]["mean"] > 0
        for task in ("corners", "random") + (("corners_oracle", "random_oracle") if name == "x" else ()):
            assert {"planning", "final_distance_px", "success_rate"} <= set(got[task])
            assert 0.0 <= got[task]["success_rate"] <= 1.0
    assert written["paper_table_1"]["x"]["planning"] == [21.4, 2.9]
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "the representation metrics do not apply to method 'dynamics_content'" in out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["x"]["agent_shape"] == "disc"
    assert read_json(tmp_path / "straight" / "evaluation.json")["seed"] == 3


def test_a_method_built_from_planar_y_swaps_the_views():
    c = tiny_config("dynamics_content", dataset="planar_y")
    method = methods.build(c, get_dataset(c.dataset))
    assert method.dataset.agent_shape == "cross"
