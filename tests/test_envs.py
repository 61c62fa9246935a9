"""The environments of disentax.envs: hand-stepped action sequences against positions written out by
hand (walls, edges, the redundant and diagonal actions, the switch, each digit's own actions, the
planar agent stopped by an obstacle and the border, clipped actions), renders against where the
state says the agent is (centres of mass, pasted glyphs, obstacle constants), determinism and
validity of reset, rollouts against a Python loop of steps, jit against eager, the registry."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from disentax import envs
from disentax.data.registry import get_dataset
from disentax.envs import digit_gridworld as dg
from disentax.envs import gridworld as gw
from disentax.envs import planar as pl
from disentax.errors import ConfigError

NAMES = ("gridworld", "gridworld_redundant", "gridworld_switch", "digit_gridworld", "planar", "planar_y")


@pytest.fixture(scope="module")
def all_envs():
    return {n: envs.get_env(n) for n in NAMES}


def _grid_walk(env, start, actions, switch_on=0):
    """Positions (row, col) and switch states visited from ``start`` under ``actions``, eager steps."""
    s = gw.GridState(position=jnp.asarray(start, jnp.int32), switch_on=jnp.asarray(switch_on, jnp.int32))
    out = [(tuple(int(v) for v in s.position), int(s.switch_on))]
    for a in actions:
        s = env.step(s, a)
        out.append((tuple(int(v) for v in s.position), int(s.switch_on)))
    return out


# ----------------------------------------------------------------------------- hand-stepped cases


def test_gridworld_moves_walls_and_edges_by_hand(all_envs):
    env = all_envs["gridworld"]
    assert env.action_names == ("down", "left", "right", "up") and env.num_actions == 4
    down, left, right, up = range(4)
    # Into the wall at (3, 4) from the left, then around it; the wall keeps the agent in place.
    walk = [p for p, _ in _grid_walk(env, (3, 2), [right, right, up, right, down, down, left, left])]
    assert walk == [(3, 2), (3, 3), (3, 3), (2, 3), (2, 4), (2, 4), (2, 4), (2, 3), (2, 2)]
    # Corners: off the board stays put on both axes.
    walk = [p for p, _ in _grid_walk(env, (0, 0), [up, left, down, right])]
    assert walk == [(0, 0), (0, 0), (0, 0), (1, 0), (1, 1)]
    walk = [p for p, _ in _grid_walk(env, (7, 7), [down, right, up, left])]
    assert walk == [(7, 7), (7, 7), (7, 7), (6, 7), (6, 6)]


def test_gridworld_redundant_actions_by_hand(all_envs):
    env = all_envs["gridworld_redundant"]
    assert env.action_names == ("down", "left", "right", "up", "up", "down+left")
    # The second "up" (4) does what the first does; down+left (5) moves diagonally in one step.
    walk = [p for p, _ in _grid_walk(env, (5, 5), [4, 3, 5, 5])]
    assert walk == [(5, 5), (4, 5), (3, 5), (4, 4), (5, 3)]
    # The diagonal is blocked by a wall at its target (3, 4) and by the edges.
    assert [p for p, _ in _grid_walk(env, (2, 5), [5])] == [(2, 5), (2, 5)]
    assert [p for p, _ in _grid_walk(env, (7, 3), [5])] == [(7, 3), (7, 3)]
    assert [p for p, _ in _grid_walk(env, (4, 0), [5])] == [(4, 0), (4, 0)]


def test_switch_toggles_only_on_its_cell(all_envs):
    env = all_envs["gridworld_switch"]
    assert env.action_names == ("up", "left", "pass", "right", "toggle", "down")
    assert gw.SWITCH_CELL == (2, 1)
    up, left, pas, right, toggle, down = range(6)
    walk = _grid_walk(env, (2, 1), [toggle, toggle, pas, toggle, right, toggle, pas, left, toggle, up, toggle, down])
    assert walk == [((2, 1), 0), ((2, 1), 1), ((2, 1), 0), ((2, 1), 0), ((2, 1), 1), ((2, 2), 1), ((2, 2), 1),
                    ((2, 2), 1), ((2, 1), 1), ((2, 1), 0), ((1, 1), 0), ((1, 1), 0), ((2, 1), 0)]
    # No toggle anywhere else, from either switch state; pass never moves.
    for r in range(4):
        for c in range(4):
            for on in (0, 1):
                if (r, c) != gw.SWITCH_CELL:
                    assert _grid_walk(env, (r, c), [toggle, pas], on)[1:] == [((r, c), on), ((r, c), on)]
    # The plain grid world has no switch to flip.
    assert _grid_walk(all_envs["gridworld"], (2, 1), [0], 0)[1][1] == 0


def test_digit_gridworld_each_digit_moves_by_its_own_actions(all_envs):
    env = all_envs["digit_gridworld"]
    assert env.num_actions == 8 and env.coordinate_names == ("x1", "y1", "x2", "y2")
    s = dg.DigitState(position=jnp.asarray([[0, 0], [6, 6]], jnp.int32), glyph=jnp.asarray([3, 5], jnp.int32))
    seq, got = [2, 6, 7, 3, 0, 4, 1, 5, 5], []
    for a in seq:
        s = env.step(s, a)
        got.append(np.asarray(s.position).tolist())
        assert np.asarray(s.glyph).tolist() == [3, 5]
    assert got == [
        [[0, 1], [6, 6]],  # digit 1 right
        [[0, 1], [6, 6]],  # digit 2 right: edge
        [[0, 1], [5, 6]],  # digit 2 up
        [[0, 1], [5, 6]],  # digit 1 up: edge
        [[1, 1], [5, 6]],  # digit 1 down
        [[1, 1], [6, 6]],  # digit 2 down
        [[1, 0], [6, 6]],  # digit 1 left
        [[1, 0], [6, 5]],  # digit 2 left
        [[1, 0], [6, 4]],
    ]
    # From the middle, every action moves exactly one digit by one cell, the one it belongs to.
    mid = dg.DigitState(position=jnp.asarray([[3, 3], [3, 3]], jnp.int32), glyph=jnp.zeros(2, jnp.int32))
    for a in range(8):
        moved = np.abs(np.asarray(env.step(mid, a).position) - 3).sum(axis=1)
        assert moved.tolist() == ([1, 0] if a < 4 else [0, 1])
    assert np.asarray(env.coordinates(s)).tolist() == [0.0, 1.0, 4.0, 6.0]


def _planar_steps(env, start, actions):
    s = pl.PlanarState(position=jnp.asarray(start, jnp.float32))
    out = []
    for a in actions:
        s = env.step(s, jnp.asarray(a, jnp.float32))
        out.append(np.asarray(s.position).tolist())
    return out


def test_planar_steps_by_hand(all_envs):
    env = all_envs["planar"]
    assert pl.OBSTACLES[0] == (20.0, 20.0, 4.0) and pl.AGENT_RADIUS == 2.5
    # Free moves add the action.
    assert np.allclose(_planar_steps(env, (4.0, 4.0), [(1.0, 0.5), (-0.25, 2.0)]), [[5.0, 4.5], [4.75, 6.5]])
    # The obstacle at (20, 20), radius 4: centres closer than 6.5 are refused, 6.5 away is allowed.
    assert np.allclose(_planar_steps(env, (20.0, 12.0), [(0.0, 2.0), (0.0, 1.5), (0.0, 0.5)]),
                       [[20.0, 12.0], [20.0, 13.5], [20.0, 13.5]])
    # The border: the centre stays in [2.5, 37.5].
    assert np.allclose(_planar_steps(env, (3.0, 10.0), [(-1.0, 0.0), (-0.5, 0.0)]), [[3.0, 10.0], [2.5, 10.0]])
    assert np.allclose(_planar_steps(env, (37.0, 37.0), [(1.0, 0.0), (0.0, 0.6), (0.5, 0.5)]),
                       [[37.0, 37.0], [37.0, 37.0], [37.5, 37.5]])
    # Large actions are clipped to +-2 per axis before moving.
    assert np.allclose(_planar_steps(env, (30.0, 20.0), [(100.0, 0.0), (-100.0, -100.0), (0.5, 7.0)]),
                       [[32.0, 20.0], [30.0, 18.0], [30.5, 20.0]])
    # The cross-shaped agent has exactly the same dynamics.
    rng = np.random.default_rng(0)
    acts = rng.uniform(-3, 3, (40, 2))
    assert _planar_steps(all_envs["planar_y"], (4.0, 4.0), acts) == _planar_steps(env, (4.0, 4.0), acts)


def test_planar_is_free_against_the_constants_and_the_task_needs_a_detour(all_envs):
    env = all_envs["planar"]
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 40, (4000, 2)).astype(np.float32)
    want = np.all((p >= 2.5) & (p <= 37.5), axis=1)
    for x, y, r in pl.OBSTACLES:
        want &= np.hypot(p[:, 0] - x, p[:, 1] - y) >= r + 2.5
    assert np.array_equal(np.asarray(env.is_free(p)), want)
    # Flood fill of the free space at 1/4 px: start and goal connected, the straight line blocked.
    step = 0.25
    c = np.arange(0, 40, step) + step / 2
    free = np.asarray(env.is_free(np.stack(np.meshgrid(c, c, indexing="xy"), -1)))
    lab, _ = ndimage.label(free)
    start, goal = np.asarray(env.start_state().position), np.asarray(env.goal_state().position)
    assert start.tolist() == [4.0, 4.0] and goal.tolist() == [36.0, 36.0]
    ls, lg = lab[int(start[1] / step), int(start[0] / step)], lab[int(goal[1] / step), int(goal[0] / step)]
    assert ls > 0 and ls == lg
    t = np.linspace(0.0, 1.0, 200)[:, None]
    assert not bool(np.all(env.is_free(start + t * (goal - start))))
    assert 0.45 < free.mean() / (35.0 / 40.0) ** 2 < 0.6  # the box's free share reset's 32 candidates rely on
    # planar_map is is_free at the pixel centres.
    m = envs.planar_map(env)
    assert m.shape == (40, 40) and m.dtype == bool
    assert m[4, 4] and m[35, 35] and not m[20, 20] and not m[0, 0]


# ----------------------------------------------------------------------------------- rendering


def test_gridworld_render_agent_walls_and_switch(all_envs):
    env = all_envs["gridworld"]
    states = env.all_states()
    assert len(states.position) == 63 and (3, 4) not in [tuple(p) for p in np.asarray(states.position)]
    obs = np.asarray(envs.render_states(env, states))  # [63, 64, 64, 3]
    assert obs.shape == (63, 64, 64, 3) and obs.dtype == np.float32 and obs.min() >= 0 and obs.max() <= 1
    rr, cc = np.mgrid[0:64, 0:64] + 0.5
    for o, (r, c) in zip(obs, np.asarray(states.position)):
        agent = np.where((o[..., 1] == 0) & (o[..., 2] == 0), o[..., 0], 0.0)  # red over black only
        mass = agent.sum()
        assert abs(mass - np.pi * 3.0**2) < 0.05 * np.pi * 9.0  # a disc of radius 3 px
        assert np.allclose([(agent * rr).sum() / mass, (agent * cc).sum() / mass], [(r + 0.5) * 8, (c + 0.5) * 8],
                           atol=1e-4)
        # The wall cell (3, 4) is orange, the rest of the board outside the agent's cell black.
        assert np.array_equal(o[24:32, 32:40], np.broadcast_to(np.float32(gw.WALL_COLOUR), (8, 8, 3)))
        rest = o.copy()
        rest[24:32, 32:40] = 0
        rest[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] = 0
        assert rest.max() == 0
    sw = all_envs["gridworld_switch"]
    for on in (0, 1):
        o = np.asarray(sw.render(gw.GridState(position=jnp.asarray([0, 3]), switch_on=jnp.asarray(on))))
        inner = o[2 * 16 + 2:3 * 16 - 2, 16 + 2:2 * 16 - 2]
        assert np.allclose(inner, gw.SWITCH_COLOURS[on])
        assert o[2 * 16 + 1, 16 + 5].max() == 0  # inside the inset border: background
    # The agent standing on the switch is drawn over it, centred on the cell.
    o = np.asarray(sw.render(gw.GridState(position=jnp.asarray([2, 1]), switch_on=jnp.asarray(1))))
    assert np.allclose(o[40, 24], gw.AGENT_COLOUR) and np.allclose(o[34, 18], gw.SWITCH_COLOURS[1])


def test_digit_render_equals_pasted_glyphs(all_envs):
    env = all_envs["digit_gridworld"]
    assert env.observation_shape == (64, 64, 1)
    odd, even = env.odd_glyphs, env.even_glyphs
    assert odd.shape[1:] == (16, 16) and len(odd) + len(even) > 1000
    rng = np.random.default_rng(2)
    for _ in range(6):
        pos = rng.integers(0, 7, (2, 2))
        glyph = np.array([rng.integers(len(odd)), rng.integers(len(even))])
        want = np.zeros((64, 64), np.float32)
        for g, (r, c) in zip((odd[glyph[0]], even[glyph[1]]), pos):
            want[8 * r:8 * r + 16, 8 * c:8 * c + 16] = np.maximum(want[8 * r:8 * r + 16, 8 * c:8 * c + 16], g)
        got = env.render(dg.DigitState(position=jnp.asarray(pos, jnp.int32), glyph=jnp.asarray(glyph, jnp.int32)))
        assert np.array_equal(np.asarray(got)[..., 0], want)
    # The glyphs are the split's odd and even digits.
    from disentax.data import digits
    images, labels = digits.load_digits_arrays()
    train = digits.split_indices()[0]
    assert len(odd) == int(np.sum(labels[train] % 2 == 1)) and len(even) == int(np.sum(labels[train] % 2 == 0))
    states = env.all_states()
    coords = np.asarray(envs.coordinates_of(env, states))
    assert coords.shape == (2401, 4) and len({tuple(c) for c in coords}) == 2401
    assert coords[1].tolist() == [0, 0, 0, 1] and coords[-1].tolist() == [6, 6, 6, 6]


def _agent_com(env, position):
    """Centre of mass (x, y) of the planar agent alone (the render less the obstacles)."""
    o = np.asarray(env.render(pl.PlanarState(position=jnp.asarray(position, jnp.float32))))[..., 0]
    obstacles = np.asarray(env._obstacle_image)
    a = (o - obstacles) / (1.0 - obstacles)  # undo the compositing
    yy, xx = np.mgrid[0:env.size, 0:env.size] + 0.5
    return np.array([(a * xx).sum(), (a * yy).sum()]) / a.sum(), a


def test_planar_render_tracks_subpixel_moves_and_shapes_differ(all_envs):
    disc, cross = all_envs["planar"], all_envs["planar_y"]
    for env in (disc, cross):
        prev = None
        for x in (6.0, 6.3, 6.55, 7.0, 7.8):
            com, a = _agent_com(env, (x, 34.2))
            assert np.allclose(com, [x, 34.2], atol=0.05)
            if prev is not None:
                assert not np.array_equal(a, prev)  # every sub-pixel move changes the image
            prev = a
    _, a_disc = _agent_com(disc, (8.5, 33.5))
    _, a_cross = _agent_com(cross, (8.5, 33.5))
    assert np.abs(a_disc - a_cross).max() >= 0.5
    # Whole-pixel cross: two 5x2 bars, 5*2 + 5*2 - 2*2 = 16 px of full coverage.
    assert np.isclose(a_cross.sum(), 16.0) and np.isclose(a_disc.sum(), np.pi * 4.0, rtol=0.05)  # the ramp: +4.3 % at r = 2
    # Obstacles: mid grey at each centre, nothing one pixel beyond the rim, the same in both sets.
    o = np.asarray(disc.render(disc.start_state()))[..., 0]
    for x, y, r in pl.OBSTACLES:
        assert o[int(y), int(x)] == pl.OBSTACLE_VALUE
        assert o[int(y), int(x + r + 1.5)] == 0.0 and o[int(y - r - 1.5), int(x)] == 0.0
    assert np.array_equal(disc._obstacle_image, cross._obstacle_image)
    assert o.max() == 1.0 and 0.0 <= o.min()


# ------------------------------------------------------------------------- reset, rollout, jit


@pytest.mark.parametrize("name", NAMES)
def test_reset_valid_deterministic_and_sample_consistent(all_envs, name):
    env = all_envs[name]
    keys = jax.random.split(jax.random.key(3), 512)
    states = jax.vmap(env.reset)(keys)
    again = jax.vmap(env.reset)(keys)
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda a, b: bool(jnp.array_equal(a, b)), states, again))
    if isinstance(env, pl.PlanarSystem):
        assert bool(jnp.all(env.is_free(states.position)))
        # Spread over the free space, not stuck at the fallback.
        assert float(jnp.std(states.position[:, 0])) > 8.0
    elif isinstance(env, gw.GridWorld):
        assert bool(jnp.all(env.is_free(states.position)))
        assert len({tuple(p) for p in np.asarray(states.position)}) == env.num_free_cells
        if env.switch:
            assert 0.4 < float(jnp.mean(states.switch_on)) < 0.6
    else:
        p = np.asarray(states.position)
        assert p.min() == 0 and p.max() == 6
        assert np.asarray(states.glyph)[:, 0].max() < len(env.odd_glyphs)
    obs, coords = env.sample(jax.random.key(4), 8)
    assert obs.shape == (8,) + env.observation_shape and coords.shape == (8, len(env.coordinate_names))
    ref = jax.vmap(env.reset)(jax.random.split(jax.random.key(4), 8))
    assert np.array_equal(np.asarray(coords), np.asarray(envs.coordinates_of(env, ref)))
    assert np.allclose(np.asarray(obs), np.asarray(envs.render_states(env, ref)), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_rollout_equals_a_loop_of_steps_and_jit_equals_eager(all_envs, name):
    env = all_envs[name]
    n, t = 3, 6
    starts = jax.vmap(env.reset)(jax.random.split(jax.random.key(5), n))
    if env.discrete:
        actions = jax.random.randint(jax.random.key(6), (n, t), 0, env.num_actions)
    else:
        actions = jax.random.uniform(jax.random.key(6), (n, t, 2), minval=-3.0, maxval=3.0)
    batched = jax.vmap(lambda s, a: envs.rollout(env, s, a))(starts, actions)
    for i in range(n):
        s = jax.tree_util.tree_map(lambda x: x[i], starts)
        seq = [s]
        for k in range(t):
            s = env.step(s, actions[i, k])
            seq.append(s)
        for k, sk in enumerate(seq):
            got = jax.tree_util.tree_map(lambda x: x[i, k], batched)
            for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(sk)):
                assert np.array_equal(np.asarray(a), np.asarray(b))
    one = jax.tree_util.tree_map(lambda x: x[0, -1], batched)
    assert np.array_equal(np.asarray(jax.jit(env.render)(one)), np.asarray(env.render(one)))
    assert np.array_equal(np.asarray(jax.jit(env.coordinates)(one)), np.asarray(env.coordinates(one)))
    frames = envs.render_states(env, batched)
    assert frames.shape == (n, t + 1) + env.observation_shape


def test_planar_rollout_gradient_in_free_space(all_envs):
    env = all_envs["planar"]

    def final_x(actions):
        return envs.rollout(env, env.start_state(), actions).position[-1, 0]

    acts = jnp.tile(jnp.asarray([[0.5, 0.0]], jnp.float32), (4, 1))
    g = jax.grad(final_x)(acts)
    assert np.allclose(np.asarray(g), np.tile([[1.0, 0.0]], (4, 1)))


# --------------------------------------------------------------------- identity, errors, registry


def test_identity_errors_and_registry(all_envs, tmp_path):
    assert envs.available() == sorted(NAMES)
    for name in NAMES:
        env = all_envs[name]
        assert env.name == name and env == envs.get_env(name) and hash(env) == hash(envs.get_env(name))
        assert get_dataset(name) == env and env.image_shape == env.observation_shape
        with pytest.raises(AttributeError):
            env.name = "x"
    assert gw.GridWorld() != gw.GridWorld(actions="redundant") and pl.PlanarSystem() != pl.PlanarSystem("cross")
    assert all_envs["planar"].action_dim == 2 and all_envs["planar"].action_bound == 2.0
    for bad in (lambda: gw.GridWorld(actions="diagonal"), lambda: gw.GridWorld(walls=((8, 0),)),
                lambda: gw.GridWorld(actions="redundant", switch=True), lambda: pl.PlanarSystem("square"),
                lambda: pl.PlanarSystem(action_bound=0.0), lambda: dg.DigitGridWorld("valid")):
        with pytest.raises(ConfigError):
            bad()
    with pytest.raises(ValueError, match="unknown env"):
        envs.get_env("maze")
    env = all_envs["gridworld_switch"]
    traj = envs.rollout(env, env.reset(jax.random.key(0)), jnp.asarray([0, 1, 4, 3]))
    path = envs.save_env_strip(tmp_path / "strip.png", env, traj)
    from PIL import Image
    assert Image.open(path).size[0] > 5 * 64
