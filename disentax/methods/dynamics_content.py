"""Disentangling dynamics and content for control and planning (Banijamali et al. (2018)): an RCE-style
locally linear latent model learned from one observation set with actions, X, transferred to a second
set seen differently and without actions, Y, through a shared encoder whose latent splits into
dynamics (z, v) and content (w_x, w_y).

The objective is Eq. 5 (`disentax.objectives.controllable_embedding.dynamics_content_elbo`, every term
logged), the networks `disentax.models.dynamics.DynamicsContent`. One step, on B X-triples and B
Y-observations: the four image batches x_t, x_{t+1}, y_t and the X-view of y_t's state go through the
encoder in one call; ẑ_{t+1}, w_x ~ q(·|x_{t+1}); z̄_t ~ q(·|ẑ_{t+1}, x_t); z_t = A(z̄_t)⁻¹(ẑ_{t+1} − B(z̄_t)u_t −
c(z̄_t)) (the δ of Eq. 3, Sherman–Morrison); v, w_y ~ q(·|y_t); both decodes in one call.

Data (the planar system, `disentax.envs.planar`, Sec. 4): X = `x_examples` (8,000) triples, Y =
`y_examples` (2,000) observations of the other agent shape, as in the paper. Neither pool is stored:
example i of X is a pure function of `fold_in(kx, i)` (a random free state, u ~ U[−b, b]², the next
state by `env.step`, both rendered in X's view) and example j of Y of `fold_in(ky, j)` (a random free
state rendered in Y's view), with (kx, ky) from `data_seed`; `sample_batch` draws B indices into each
pool with replacement and renders on device. X's view is the configured dataset's agent shape (`planar`:
the disc, the paper's "with action" set), Y's the other one.

Choices where the paper is silent (each with its reason):
- Eq. 6 needs the X-view x_t of the very state y_t shows, while Sec. 2 calls Y "random observations" and
  the sets differ in size. Each Y example carries the X-view of its own state (the simulator renders
  both), used only as the input of Eq. 6's prior p(v_t) = N(μ_φ(x_t), σ_φ(x_t)); Y never sees an action.
- that prior is behind stop_gradient (`stop_prior_gradient`, default true): the dynamics latent is
  learned from X alone and Y is aligned to it, never X pulled toward Y;
- p(w_x) = N(−1, I), p(w_y) = N(+1, I) (`content_prior_mean` = 1: means ∓1; the paper asks only for
  "different means" when one encoder serves both sets);
- where content is read from (`content_from`, default "other"): each example's w_x is inferred from x_t of
  *another* example of X (the batch rolled by one), and w_y from another example of Y. Eq. 3 writes
  q(w_x | x_{t+1}) and Eq. 5 q(w_x | x_t); read from the image itself, w carried the agent's position
  (KL(w_x) ≈ 4-6 nats), the decoder drew from it, and z was left unorganised (a scattered latent map and 0 %
  planning success after 20,000 steps with either choice). Every image of one set shares its content
  (the agent's shape, the obstacles), so reading it from another image of the set is the set-level
  content the paper describes ("p(w_x) and p(w_y) ... Gaussians with different means"), and position
  can only pass through the dynamics latent: after 10,000 steps KL(w_x) ≈ 0.02 nats, z orders the
  positions (`latent_map.png`) and X's and Y's maps agree. "x_t" and "x_next" keep the literal forms;
- the Jacobian log|det A_t| that the δ's change of variables would add is left out, as Eq. 5 has none;
- networks: E2C's planar sizes (Watter et al. (2015)), z_dim = 2 (the system's state is 2-D), w_dim = 2;
- optimiser: Adam, 1e-3 (E2C and RCE train with Adam in a 1e-4 … 1e-3 range; the top of it for a CPU budget:
  after 5,000 steps the loss was 308.9 at 1e-3, 312.9 at 3e-4), batch 128.

Evaluation (`evaluations`, evaluation.json; Banijamali et al. (2018), Table 1), for X and for Y, on fresh
states (not the pools), mean ± std:
- reconstruction: encoder means → decoder (sigmoid means) vs the image, the per-image sum of squared
  errors (the paper gives no units) and the per-image Bernoulli negative log-likelihood;
- prediction: (s_t, u_t, s_{t+1}) rendered in the set's view: the means (z, w) of x_t, ẑ_{t+1} = A(z)z +
  B(z)u + c(z), decoded with w vs x_{t+1}: same two losses. For Y this is the paper's transfer claim;
- planning, `plan_runs` (20) runs: start and goal within ±`plan_jitter` px of the task's corners (a
  jittered point that is not free falls back to the corner). Every step, the image of the TRUE state in
  the set's view is encoded (mean), iLQR (`disentax.control.ilqr`) plans `plan_horizon` steps on f(z, u) =
  A(z)z + B(z)u + c(z) toward the encoded goal, warm-started from the previous plan shifted by one, and
  the plan's first action moves the true system (receding horizon, as E2C/RCE's evaluation), for
  `plan_steps` = T steps, all inside one jit (lax.scan over time, vmap over runs). Latent cost:
  Q_z = diag(1 / Var(z_d)) over the evaluation's encoded states (the latent scale is not identified by
  Eq. 5, so the cost is made invariant to it), R = `plan_action_cost`·I / b², Q_f = `plan_terminal_weight`·Q_z.
  Reported on the TRUE states: Eq. 7's J with positions in units of the map side (s / size), Q = I, and
  actions in units of the bound (u / b), R = `plan_action_cost`·I, summed over the T states reached and the
  T actions taken; the success rate (the agent within `success_radius` px of the goal at T and never
  leaving that disc after first entering it, Sec. 4's "remains near the goal"); the final distance (px).
  Two tasks of `plan_runs` runs each: `corners`, Sec. 4's corner-to-opposite-corner task, and `random`,
  start and goal drawn from the free space with a free straight segment between them ("different sets of
  initial and final observations"). For X, the same planner on the true coordinates with the free-space
  model z' = z + u / size (`*_oracle`) shows what a perfect embedding reaches with this planner: a
  quadratic cost toward the goal walks into the obstacles on the diagonal (0 % on `corners`), and reaches
  70-90 % of the `random` pairs (two draws of 20; the rest stop against an obstacle's rim). The paper's 100 % needs
  a model whose latent geometry routes around the obstacles.

No code: `disentax evaluate`'s metrics score a code against a discrete factor grid; the planar system's
state is continuous, so the method declares `no_code` and reports Table 1's protocol in `evaluations`.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import distributions as dist
from disentax import viz
from disentax.control import ilqr, warm_start
from disentax.envs.planar import AGENT_SHAPES, PlanarSystem, planar_map
from disentax.errors import ConfigError
from disentax.methods.contract import (
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    greater_than,
    one_of,
    positive_ints,
)
from disentax.methods.registry import register
from disentax.models.dynamics import DynamicsContent
from disentax.objectives.controllable_embedding import (
    bernoulli_log_likelihood,
    dynamics_content_elbo,
    invert_transition,
)
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

__all__ = ["DYNAMICS_CONTENT", "PAPER_TABLE_1", "build_model", "make_pools", "planning_loss", "receding_horizon",
           "success", "views"]

NO_CODE = ("the metrics score a code against a discrete factor grid and the planar system's state is continuous; "
           "Table 1's reconstruction, prediction and planning losses are in evaluation.json")

# Banijamali et al. (2018), Table 1, the planar system (units not given), 20 runs.
PAPER_TABLE_1 = {
    "x": {"reconstruction": [3.6, 1.7], "prediction": [6.2, 2.8], "planning": [21.4, 2.9], "success_rate": 1.0},
    "y": {"reconstruction": [3.9, 2.2], "prediction": [6.3, 3.0], "planning": [22.0, 2.4], "success_rate": 1.0},
}


# ----------------------------------------------------------------------------- data


def views(env) -> tuple[PlanarSystem, PlanarSystem]:
    """(X's view, Y's view): the configured planar system and the same system drawn with the other agent."""
    if not isinstance(env, PlanarSystem):
        raise ConfigError(f"dynamics_content trains on the planar system: config.dataset must be planar or planar_y, "
                          f"got {getattr(env, 'name', type(env).__name__)!r}")
    other = next(s for s in AGENT_SHAPES if s != env.agent_shape)
    return env, PlanarSystem(agent_shape=other, size=env.size, action_bound=env.action_bound)


def make_pools(env_x: PlanarSystem, env_y: PlanarSystem, data_seed: int, x_examples: int, y_examples: int):
    """(x_example(i), y_example(j), sample_batch(key, B)), the fixed pools of the module docstring.

    x_example(i) -> {"x_t", "u_t", "x_next", "s_t", "s_next"}; y_example(j) -> {"y", "y_x", "s"}; i, j int32
    scalars (vmappable). sample_batch(key, B) -> {"x_t", "u_t", "x_next", "y", "y_x"}, each with leading axis B.
    """
    kx, ky = jax.random.split(jax.random.PRNGKey(int(data_seed)))
    bound = env_x.action_bound

    def x_example(i):
        k_state, k_action = jax.random.split(jax.random.fold_in(kx, i))
        s = env_x.reset(k_state)
        u = jax.random.uniform(k_action, (env_x.action_dim,), minval=-bound, maxval=bound)
        s_next = env_x.step(s, u)
        return {"x_t": env_x.render(s), "u_t": u, "x_next": env_x.render(s_next), "s_t": env_x.coordinates(s),
                "s_next": env_x.coordinates(s_next)}

    def y_example(j):
        s = env_y.reset(jax.random.fold_in(ky, j))
        return {"y": env_y.render(s), "y_x": env_x.render(s), "s": env_y.coordinates(s)}

    def sample_batch(key, batch_size: int):
        ka, kb = jax.random.split(key)
        ix = jax.random.randint(ka, (batch_size,), 0, int(x_examples))
        iy = jax.random.randint(kb, (batch_size,), 0, int(y_examples))
        xs, ys = jax.vmap(x_example)(ix), jax.vmap(y_example)(iy)
        return {"x_t": xs["x_t"], "u_t": xs["u_t"], "x_next": xs["x_next"], "y": ys["y"], "y_x": ys["y_x"]}

    return x_example, y_example, sample_batch


def build_model(hp, image_shape) -> DynamicsContent:
    """The `DynamicsContent` networks of `hp` (the method's config group)."""
    return DynamicsContent(image_shape=tuple(image_shape), z_dim=int(hp.z_dim), w_dim=int(hp.w_dim), u_dim=2,
                           encoder_hidden=tuple(hp.encoder_hidden), decoder_hidden=tuple(hp.decoder_hidden),
                           transition_hidden=tuple(hp.transition_hidden), backward_hidden=tuple(hp.backward_hidden))


# ----------------------------------------------------------------------------- the bound on a batch


def content_rows(w_mean, w_logvar, content_from: str):
    """The content posteriors (w_x mean, logvar, w_y mean, logvar) each example's decoder reads, from
    the encoder's content heads of the four encoded images (x_{t+1}, x_t, y, y's X-view; lists of
    [B, D_w]): "other", example b reads example b − 1's x_t (w_x) and y (w_y), the batch rolled by one
    (the encoder reads each image alone, so rolling its outputs is encoding the rolled batch); "x_t" /
    "x_next", each reads its own x_t or x_{t+1} (w_x) and its own y (w_y)."""
    roll = (lambda a: jnp.roll(a, 1, axis=0)) if content_from == "other" else (lambda a: a)  # noqa: E731
    src = 0 if content_from == "x_next" else 1
    return roll(w_mean[src]), roll(w_logvar[src]), roll(w_mean[2]), roll(w_logvar[2])


def batch_elbo(model, params, batch, key, *, content_mean: float, stop_prior_gradient: bool,
               content_from: str = "other"):
    """(loss, aux) of Eq. 5 on one batch (module docstring: one step).

    `content_from` names the image each content posterior reads: "other" (the default) another
    example of the same set (the batch rolled by one: x_t of example b − 1 for w_x, y of example b − 1
    for w_y), "x_t" (Eq. 5's q(w_x | x_t)) or "x_next" (Eq. 3's q(w_x | x_{t+1})); w_y reads y itself
    unless "other". See the module docstring for why "other"."""
    call = lambda name, *a: model.apply({"params": params}, *a, method=name)  # noqa: E731
    b = batch["x_t"].shape[0]
    images = jnp.concatenate([batch["x_next"], batch["x_t"], batch["y"], batch["y_x"]], 0)
    zm, zl, wm, wl = (jnp.split(a, 4) for a in call("encode", images))
    k_zn, k_wx, k_zb, k_v, k_wy = jax.random.split(key, 5)
    z_next = dist.gaussian_sample(k_zn, zm[0], zl[0])
    wx_mean, wx_logvar, wy_mean, wy_logvar = content_rows(wm, wl, content_from)
    w_x = dist.gaussian_sample(k_wx, wx_mean, wx_logvar)
    zb_mean, zb_logvar = call("backward", z_next, batch["x_t"])
    z_bar = dist.gaussian_sample(k_zb, zb_mean, zb_logvar)
    a, a_inv, bm, c = call("linearise", z_bar)
    z_t = invert_transition(a, bm, c, z_next, batch["u_t"], A_inverse=a_inv)
    v = dist.gaussian_sample(k_v, zm[2], zl[2])
    w_y = dist.gaussian_sample(k_wy, wy_mean, wy_logvar)
    logits = call("decode", jnp.concatenate([z_next, v]), jnp.concatenate([w_x, w_y]))
    loss, aux = dynamics_content_elbo(
        log_px_next=bernoulli_log_likelihood(batch["x_next"], logits[:b]), z_next=(zm[0], zl[0]),
        z_bar=(zb_mean, zb_logvar), encoder_t=(zm[1], zl[1]), z_t=z_t, w_x=(wx_mean, wx_logvar),
        w_x_prior_mean=-content_mean, log_py=bernoulli_log_likelihood(batch["y"], logits[b:]), v=(zm[2], zl[2]),
        v_prior=(zm[3], zl[3]), w_y=(wy_mean, wy_logvar), w_y_prior_mean=content_mean,
        stop_prior_gradient=stop_prior_gradient)
    return loss, aux


# ----------------------------------------------------------------------------- planning


def receding_horizon(observe, step, dynamics, s0, z_goal, u_init, *, steps: int, Q, R, Qf, iterations: int,
                     u_bound):
    """Model-predictive control with iLQR: for t = 0 … `steps` − 1, z_t = observe(s_t), plan
    len(u_init) steps of `dynamics(z, u)` from z_t toward `z_goal` under the quadratic cost (Q, R, Qf) with
    `disentax.control.ilqr` (warm-started from the previous plan shifted by one), and apply the plan's
    first action: s_{t+1} = step(s_t, u_t). E2C / RCE's evaluation protocol (Banijamali et al. (2018), Sec. 4).

    observe: state -> latent [n]; step: (state, u) -> state (the TRUE system); dynamics: (z, u) -> z.
    Returns (states: the pytree s_0 … s_steps, leading axis steps + 1; actions [steps, m]).
    """
    def one(carry, _):
        s, plan = carry
        result = ilqr(dynamics, observe(s), plan, Q, R, Qf, z_goal, iterations=iterations, u_bound=u_bound)
        u = result.us[0]
        s_next = step(s, u)
        return (s_next, warm_start(result.us)), (s_next, u)

    _, (later, actions) = jax.lax.scan(one, (s0, jnp.asarray(u_init)), None, length=int(steps))
    states = jax.tree.map(lambda a, rest: jnp.concatenate([jnp.asarray(a)[None], rest], 0), s0, later)
    return states, actions


def planning_loss(positions, actions, goal, *, Q, R):
    """Eq. 7 of Banijamali et al. (2018): J = Σ_{t=1}^T (s_t − s^f)ᵀQ(s_t − s^f) + u_{t−1}ᵀRu_{t−1}, over the T
    states reached after the start (positions [T+1, k], the start first) and the T actions taken
    (actions [T, m]); the caller chooses the units (module docstring)."""
    d = positions[1:] - goal
    return jnp.einsum("ti,ij,tj->", d, Q, d) + jnp.einsum("ti,ij,tj->", actions, R, actions)


def success(positions, goal, radius: float):
    """Sec. 4's success: within `radius` of the goal at the last step, and never out of that disc again
    after first entering it. positions [T+1, k] -> bool."""
    inside = jnp.linalg.norm(positions - goal, axis=-1) <= radius
    entered = jnp.cumsum(inside) > 0
    return inside[-1] & jnp.all(inside | ~entered)


def _jittered(key, env, corner, jitter: float):
    p = corner + jax.random.uniform(key, (2,), minval=-jitter, maxval=jitter)
    return type(env.start_state())(position=jnp.where(env.is_free(p), p, corner))


def _pair_in_sight(key, env, candidates: int = 32, points: int = 48):
    """(start, goal): the first of `candidates` pairs of uniformly drawn free states whose straight
    segment is free (the agent can go straight from one to the other), else the first pair. A fixed
    number of draws keeps it branch-free under jit and vmap."""
    k1, k2 = jax.random.split(key)
    a = jax.vmap(env.reset)(jax.random.split(k1, candidates))
    b = jax.vmap(env.reset)(jax.random.split(k2, candidates))
    t = jnp.linspace(0.0, 1.0, points)[None, :, None]
    segment = a.position[:, None] + t * (b.position - a.position)[:, None]
    pick = jnp.argmax(jnp.all(env.is_free(segment), axis=1))  # 0 when no pair is in sight
    return jax.tree.map(lambda x: x[pick], a), jax.tree.map(lambda x: x[pick], b)


# ----------------------------------------------------------------------------- evaluation and pictures


def _evaluator(hp, model, env_x, env_y):
    n = int(hp.eval_examples)
    bound, size = env_x.action_bound, float(env_x.size)
    runs, steps, horizon = int(hp.plan_runs), int(hp.plan_steps), int(hp.plan_horizon)
    r_true = float(hp.plan_action_cost)
    call = lambda p, name, *a: model.apply({"params": p}, *a, method=name)  # noqa: E731

    def losses(p, first, second, u):
        zm, _, wm, _ = call(p, "encode", first)
        rec = call(p, "decode", zm, wm)
        pred = call(p, "decode", call(p, "predict", zm, u), wm)
        out = {}
        for name, logits, target in (("reconstruction", rec, first), ("prediction", pred, second)):
            out[name] = ((jax.nn.sigmoid(logits) - target) ** 2).reshape(target.shape[0], -1).sum(-1)
            out[name + "_bernoulli_nll"] = -bernoulli_log_likelihood(target, logits)
        return out, zm

    def tasks(env, key):
        """(start, goal) states of the `runs` runs: "corners", the task of Sec. 4 (jittered corners), and
        "random", start and goal drawn from the free space with the straight segment between them free
        (`_pair_in_sight`; "different sets of initial and final observations", Sec. 4)."""
        ks, kg, kr = jax.random.split(key, 3)
        start = jax.vmap(lambda k: _jittered(k, env, env.start_state().position, float(hp.plan_jitter)))(
            jax.random.split(ks, runs))
        goal = jax.vmap(lambda k: _jittered(k, env, env.goal_state().position, float(hp.plan_jitter)))(
            jax.random.split(kg, runs))
        first, second = jax.vmap(lambda k: _pair_in_sight(k, env))(jax.random.split(kr, runs))
        return {"corners": (start, goal), "random": (first, second)}

    def plan(p, env, z_scale, start, goal, oracle: bool = False):
        """Receding-horizon iLQR from `start` to `goal` on the learned model, or (`oracle`) on the
        planar system's own coordinates with its free-space dynamics z' = z + u / size (no obstacles):
        what the planner reaches with a perfect embedding."""
        if oracle:
            observe = lambda s: env.coordinates(s) / size  # noqa: E731
            dynamics = lambda z, u: z + u / size  # noqa: E731
            z_scale = jnp.full((2,), 1.0 / jnp.sqrt(12.0))  # a uniform coordinate's std, in map sides
        else:
            observe = lambda s: call(p, "encode", env.render(s)[None])[0][0]  # noqa: E731
            dynamics = lambda z, u: call(p, "predict", z[None], u[None])[0]  # noqa: E731
        q_z = jnp.diag(1.0 / z_scale ** 2)
        r_z = jnp.eye(2) * r_true / bound ** 2

        def one(s0, g):
            z_goal = observe(g)
            states, actions = receding_horizon(observe, env.step, dynamics, s0, z_goal, jnp.zeros((horizon, 2)),
                                               steps=steps, Q=q_z, R=r_z, Qf=float(hp.plan_terminal_weight) * q_z,
                                               iterations=int(hp.plan_iterations), u_bound=bound)
            pos = jax.vmap(env.coordinates)(states)
            gpos = env.coordinates(g)
            j = planning_loss(pos / size, actions / bound, gpos / size, Q=jnp.eye(2), R=r_true * jnp.eye(2))
            return {"planning": j, "success": success(pos, gpos, float(hp.success_radius)),
                    "final_distance_px": jnp.linalg.norm(pos[-1] - gpos), "path": pos, "goal": gpos}

        return jax.vmap(one)(start, goal)

    @jax.jit
    def measure(p, key):
        k_data, k_x, k_y = jax.random.split(key, 3)
        bx = jax.random.split(k_data, n)

        def draw(k):
            k_state, k_action = jax.random.split(k)
            s = env_x.reset(k_state)
            u = jax.random.uniform(k_action, (2,), minval=-bound, maxval=bound)
            s1 = env_x.step(s, u)
            return env_x.render(s), env_x.render(s1), env_y.render(s), env_y.render(s1), u

        x0, x1, y0, y1, u = jax.vmap(draw)(bx)
        out_x, zx = losses(p, x0, x1, u)
        out_y, zy = losses(p, y0, y1, u)
        for out, env, z, k in ((out_x, env_x, zx, k_x), (out_y, env_y, zy, k_y)):
            for task, (start, goal) in tasks(env, k).items():
                out[task] = plan(p, env, z.std(0) + 1e-6, start, goal)
                if env is env_x:  # the oracle sees coordinates, not images: one row serves both views
                    out[task + "_oracle"] = plan(p, env, None, start, goal, oracle=True)
        return {"x": out_x, "y": out_y}

    return measure


def _evaluations(hp, measure, env_x, env_y):

    def summary(a):
        a = np.asarray(a, np.float64)
        return {"mean": float(a.mean()), "std": float(a.std())}

    def evaluations(params, key) -> dict:
        got = jax.tree.map(np.asarray, measure(params, key))
        out = {}
        for name, view in (("x", env_x), ("y", env_y)):
            g = got[name]
            out[name] = {"agent_shape": view.agent_shape, **{k: summary(g[k]) for k in (
                "reconstruction", "reconstruction_bernoulli_nll", "prediction", "prediction_bernoulli_nll")}}
            for task in ("corners", "random", "corners_oracle", "random_oracle"):
                if task in g:
                    out[name][task] = {"planning": summary(g[task]["planning"]),
                                       "final_distance_px": summary(g[task]["final_distance_px"]),
                                       "success_rate": float(np.mean(g[task]["success"]))}
        return {
            **out,
            "held_out_examples": int(hp.eval_examples), "plan_runs": int(hp.plan_runs),
            "plan_steps": int(hp.plan_steps), "plan_horizon": int(hp.plan_horizon),
            "success_radius_px": float(hp.success_radius),
            "units": ("reconstruction / prediction: per-image sum of squared errors of the sigmoid means (pixels in "
                      "[0, 1]) and Bernoulli NLL (nats); planning: Eq. 7 with positions in map sides, actions in "
                      "action bounds, Q = I, R = plan_action_cost I; final distance in pixels; mean / std over "
                      "images or runs"),
            "paper_table_1": PAPER_TABLE_1,
        }

    return evaluations


def _pictures(hp, model, measure, env_x, env_y):
    call = lambda p, name, *a: model.apply({"params": p}, *a, method=name)  # noqa: E731
    free = planar_map(env_x)
    centres = np.arange(env_x.size, dtype=np.float32) + 0.5
    grid = np.stack(np.meshgrid(centres, centres, indexing="xy"), -1)[free]  # [F, 2] (x, y)

    @jax.jit
    def latent_maps(p):
        st = type(env_x.start_state())(position=jnp.asarray(grid))
        zx = call(p, "encode", jax.vmap(env_x.render)(st))[0]
        zy = call(p, "encode", jax.vmap(env_y.render)(st))[0]
        return zx, zy

    @jax.jit
    def predictions(p, key):
        ks, ku = jax.random.split(key)
        s0 = env_x.reset(ks)
        us = jax.random.uniform(ku, (4, 2), minval=-env_x.action_bound, maxval=env_x.action_bound)
        rows = []
        for env in (env_x, env_y):
            def go(s, u):
                s1 = env.step(s, u)
                return s1, env.render(s1)

            _, true = jax.lax.scan(go, s0, us)
            zm, _, wm, _ = call(p, "encode", env.render(s0)[None])

            def roll(z, u):
                z1 = call(p, "predict", z, u[None])
                return z1, z1

            _, zs = jax.lax.scan(roll, zm, us)
            zs = jnp.concatenate([zm, zs[:, 0]], 0)
            model_rows = jax.nn.sigmoid(call(p, "decode", zs, jnp.broadcast_to(wm, (5, wm.shape[-1]))))
            rows += [jnp.concatenate([env.render(s0)[None], true], 0), model_rows]
        return jnp.stack(rows)

    def pictures(params, key, workdir) -> list[Path]:
        # Bare Figures draw without a backend, so a notebook's inline backend and pyplot's figures stay untouched.
        from matplotlib.figure import Figure

        workdir = Path(workdir)
        k_pred, k_plan = jax.random.split(key)
        colours = np.stack([grid[:, 0] / env_x.size, grid[:, 1] / env_x.size, np.full(len(grid), 0.5)], -1)
        zx, zy = (np.asarray(a) for a in latent_maps(params))
        fig = Figure(figsize=(10.5, 3.5))
        axes = fig.subplots(1, 3)
        for ax, pts, title in ((axes[0], grid, "true state space"), (axes[1], zx, f"latent z, X ({env_x.agent_shape})"),
                               (axes[2], zy, f"latent v, Y ({env_y.agent_shape})")):
            ax.scatter(pts[:, 0], pts[:, 1], c=colours, s=4)
            ax.set_title(title, fontsize=9)
        axes[0].invert_yaxis()  # image rows go down
        fig.tight_layout()
        paths = [workdir / "latent_map.png"]
        fig.savefig(paths[-1], dpi=100)

        rows = np.asarray(predictions(params, k_pred))
        labels = [f"X true ({env_x.agent_shape})", "X model", f"Y true ({env_y.agent_shape})", "Y model"]
        paths.append(viz.save_clip_strip(workdir / "predictions.png", rows, labels))

        got = jax.tree.map(np.asarray, measure(params, k_plan))
        fig = Figure(figsize=(7, 7))
        axes = fig.subplots(2, 2)
        for row, task in enumerate(("corners", "random")):
            for ax, name in zip(axes[row], ("x", "y")):
                ax.imshow(np.asarray(env_x._obstacle_image), cmap="Greys", vmin=0, vmax=1,
                          extent=(0, env_x.size, env_x.size, 0))
                for i in range(min(4, int(hp.plan_runs))):
                    path, goal = got[name][task]["path"][i], got[name][task]["goal"][i]
                    line, = ax.plot(path[:, 0], path[:, 1], "-o", ms=2, lw=1)
                    ax.plot(*goal, "*", color=line.get_color(), ms=9, mec="k")
                ax.set_title(f"{name.upper()}, {task}: true paths (stars: goals)", fontsize=9)
        fig.tight_layout()
        paths.append(workdir / "plans.png")
        fig.savefig(paths[-1], dpi=100)
        return paths

    return pictures


# ----------------------------------------------------------------------------- the method


def _build(config, dataset) -> Method:
    hp = config.dynamics_content
    env_x, env_y = views(dataset)
    model = build_model(hp, env_x.observation_shape)
    tx = make_optimizer(config.optimizer)
    _, _, sample_batch = make_pools(env_x, env_y, int(hp.data_seed), int(hp.x_examples), int(hp.y_examples))
    content_mean, stop = float(hp.content_prior_mean), bool(hp.stop_prior_gradient)
    measure = _evaluator(hp, model, env_x, env_y)  # one compiled evaluation for the numbers and the pictures

    def loss_fn(params, batch, key, state):
        loss, aux = batch_elbo(model, params, batch, key, content_mean=content_mean, stop_prior_gradient=stop,
                               content_from=str(hp.content_from))
        return loss, (aux, None)

    def init_state(key, batch):
        params = model.init(key, batch["x_t"][:1], batch["u_t"][:1])["params"]
        return TrainState.create(params, tx)

    return Method(
        name=config.method, model=model, dataset=env_x,
        init_state=jax.jit(init_state),
        train_step=make_train_step(loss_fn, tx),
        sample_batch=sample_batch,
        codes={}, no_code=NO_CODE,
        pictures=_pictures(hp, model, measure, env_x, env_y),
        evaluations=_evaluations(hp, measure, env_x, env_y),
    )


_PAPER = "Banijamali et al. (2018)"
_E2C = "chosen (not in the paper): E2C's planar networks (Watter et al. 2015)"
DYNAMICS_CONTENT = register(MethodSpec(
    name="dynamics_content", build=_build, paper=_PAPER,
    summary="locally linear latent dynamics learned from observations with actions (X) and transferred to "
            "action-free observations of another view (Y) through a shared dynamics/content encoder",
    shared_defaults={"optimizer.learning_rate": 1e-3, "batch_size": 128, "dataset": "planar"},
    hyperparameters=(
        Hyperparameter("x_examples", 8000, "triples (x_t, u_t, x_t+1) in the pool X", f"{_PAPER}, Sec. 4",
                       at_least(1)),
        Hyperparameter("y_examples", 2000, "action-free observations in the pool Y", f"{_PAPER}, Sec. 4",
                       at_least(1)),
        Hyperparameter("data_seed", 0, "seed of the two fixed pools", "chosen", at_least(0)),
        Hyperparameter("z_dim", 2, "dynamics latent (z for X, v for Y)",
                       "chosen: the planar system's state is 2-D (as E2C)", at_least(1)),
        Hyperparameter("w_dim", 2, "content latent (w_x, w_y)", "chosen (not in the paper)", at_least(1)),
        Hyperparameter("encoder_hidden", (150, 150), "ReLU layers of the encoder", _E2C, positive_ints()),
        Hyperparameter("decoder_hidden", (150, 150), "ReLU layers of the decoder", _E2C, positive_ints()),
        Hyperparameter("transition_hidden", (100, 100), "ReLU layers of the transition network", _E2C,
                       positive_ints()),
        Hyperparameter("backward_hidden", (150, 150), "ReLU layers of q(z̄_t | ẑ_t+1, x_t)",
                       "chosen: the encoder's sizes (RCE gives none for the planar system)", positive_ints()),
        Hyperparameter("content_prior_mean", 1.0, "p(w_x) = N(-m, I), p(w_y) = N(+m, I)",
                       f"{_PAPER}, Sec. 3: 'different means'; m = 1 chosen", greater_than(0)),
        Hyperparameter("content_from", "other", "the image each content posterior reads: another example of "
                       "the same set (other), x_t (Eq. 5) or x_next (Eq. 3)",
                       "chosen: content read from the image itself carried the position and left z unused "
                       "(module docstring)", one_of("other", "x_t", "x_next")),
        Hyperparameter("stop_prior_gradient", True, "Eq. 6's prior N(mu(x_t), sigma(x_t)) behind stop_gradient",
                       "chosen: the dynamics latent learned from X alone, Y aligned to it"),
        Hyperparameter("eval_examples", 1000, "held-out states for the reconstruction / prediction losses",
                       "chosen", at_least(2)),
        Hyperparameter("plan_runs", 20, "planning runs per set", f"{_PAPER}, Sec. 4", at_least(1)),
        Hyperparameter("plan_steps", 40, "T, steps executed in the true system",
                       "chosen: the corner-to-corner detour is about 55 px at 2 px per step", at_least(1)),
        Hyperparameter("plan_horizon", 20, "steps of each iLQR plan (receding horizon)", "chosen", at_least(1)),
        Hyperparameter("plan_iterations", 5, "iLQR iterations per replanning (warm-started)", "chosen",
                       at_least(1)),
        Hyperparameter("plan_action_cost", 0.01, "R = r I on actions in units of the bound (Q = I on positions "
                       "in map sides)", "chosen", at_least(0)),
        Hyperparameter("plan_terminal_weight", 10.0, "Q_f = w Q_z of each plan", "chosen", at_least(0)),
        Hyperparameter("plan_jitter", 1.0, "start / goal within +-jitter px of the task's corners", "chosen",
                       at_least(0)),
        Hyperparameter("success_radius", 2.0, "px from the goal that count as reached (one largest step)",
                       "chosen", greater_than(0)),
    ),
))
