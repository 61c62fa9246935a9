"""Independently controllable factors (Thomas et al. (2018)): an encoder h = f(s), a factor generator
φ = Φ(h, z) and a policy π(a | h, φ) trained together to maximise the selectivity of Eq. 1, so that
following π_φ changes h along φ and not along the other factors.

The data are environments (`disentax.envs`): `config.dataset` names a discrete-action env
(`gridworld`, `gridworld_redundant`, `gridworld_switch`, `digit_gridworld`), and a batch is B start
states drawn by `env.reset`. One training step (`_episode`, then `_loss`):

1. n factors per state, φ_i = Φ(h, z_i), z_i ~ N(0, I_m) (App. A.1: m = 2, n = 256 or 1024), and one
   behaviour factor φ_b drawn uniformly among them (App. A.1);
2. `policy_steps` actions (1 in Sec. 4.1, 3 in Sec. 4.2) from the ε-greedy behaviour
   μ = (1 − ε)·π(· | h_t, φ_b) + ε/|A| (App. B.3 mentions ε-greedy), the policy reading the current
   encoding h_t at each step;
3. h' = f(s_T), the reward R = S of Eq. 1 (`disentax.objectives.selectivity`), the Gaussian kernel
   (Sec. 4.1, σ = √K) or the positive projection (Sec. 4.2);
4. loss = −mean(w·R) (the reward's own gradient, through h, h' and φ)
        + REINFORCE −mean(w·(R − V)·Σ_t log π(a_t)) and the baseline's regression mean((R − V)²)
        − β_H·mean(H(π))   (App. D)
        + λ_AE·mean ‖s − g(f(s))‖²   (the squared error summed over an image's pixels)
        + λ_MB·mean ‖h' − T_θ(h, φ_b)‖²   (Sec. 4.2),
   w = Π_t π(a_t)/μ(a_t) behind stop_gradient. The reward's own term carries w as well: under
   actions drawn from μ, E_μ[w ∇R] is the E_π[∇f_θ] of App. D's gradient; without w it is biased
   (tests/test_selectivity.py checks the whole estimator by enumeration).

Batch norm and the behaviour. The encoder has batch norm (App. A.1). Encoding s_0 and s_T in
separate calls would normalise each with its own batch's statistics, removing from h' − h any shift
the batch shares (every agent moving right, say) — the very signal Eq. 1 scores. So the learning
pass encodes all T + 1 observations of the episode in one call (one set of statistics, kept as the
running averages in `TrainState.extra["model_state"]`). The actions must be drawn before s_1..s_T
exist, so a behaviour pass first encodes each step's observations on its own (train-mode
statistics, not kept, no gradient) and samples from μ of those encodings. The learning pass then
evaluates π on its own encodings, and w = π/μ corrects for the difference as well as for ε: any
behaviour that gives every action a positive probability is allowed, and the ε-greedy term
guarantees that. Evaluation runs both passes in inference mode, where they agree.

App. B.1's variant (`variant="separate"`): K separately parameterised policies π_k(a | h) (one
stacked network), no Φ and no autoencoder; the factors are the unit vectors φ_k = e_k, the behaviour
factor k drawn uniformly, and Eq. 1's denominator the mean score over the K factors. With the
Gaussian kernel, A(h', h, e_k) = exp(−‖h' − h − e_k‖² / (2σ²)): policy k is rewarded for moving
h_k by one and leaving the other coordinates of h alone, which is how we make "K factors
corresponding to the coordinates of h" concrete.

Choices where the paper is silent (see the hyperparameters' sources): Adam 5e-4; batch 64; the
encoder's widths (32 channels, as the dSprites encoders here) and 64-unit hidden layers for Φ, π,
V and T; ε = 0.1; β_H = 0.01; λ_AE = 1 on the per-image sum of squared errors (the paper's
‖s − g(f(s))‖²); λ_MB = 1 in Sec. 4.2; the floor 1e-3 of log A for the positive projection; the
baseline V reads (h, φ) behind stop_gradient (it regresses the reward; it does not shape the
representation); L_MB's gradient reaches the encoder and Φ (the paper trains it jointly); the
networks' bilinear input bil((a, 1), (b, 1)) (`disentax.models.controllable`).

Evaluation (`evaluations`, written to evaluation.json; the paper has figures only, no numbers):

- the issue's reading: |Pearson correlation| between each learned coordinate h_k and each true
  coordinate of the env over every reachable state (`env.all_states()`), the K × coordinates
  matrix, and per coordinate the best |corr| and the R² of a least-squares fit of the coordinate
  on (h, 1);
- the mean selectivity of π (ε = 0, inference-mode batch norm) on `eval_states` fresh states (its
  ceiling is log n);
- mode collapse (Sec. 5, App. B.3): for `eval_factors` fresh states each with one sampled φ, the
  histogram of the greedy action argmax π(· | h, φ) over the action names (the separate variant:
  each policy's histogram over the fresh states).

No code: the representation metrics of `disentax evaluate` score a code against a dataset's
discrete factor grid, and an environment is not one; the correlations above are the evaluation.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax import viz
from disentax.envs.base import coordinates_of, render_states
from disentax.errors import ConfigError
from disentax.methods.contract import (
    Hyperparameter,
    Method,
    MethodSpec,
    at_least,
    between,
    greater_than,
    one_of,
    positive_ints,
)
from disentax.methods.registry import register
from disentax.models.controllable import ControllableFactors
from disentax.objectives import selectivity as sel
from disentax.train.adversarial import apply_network, variables
from disentax.train.optim import make_optimizer
from disentax.train.step import TrainState, make_train_step

__all__ = ["CONTROLLABLE_FACTORS", "behaviour_log_probs", "behaviour_rollout", "build_model", "correlation_report",
           "epsilon_greedy", "score_fn"]

NO_CODE = ("the metrics score a code against a dataset's discrete factor grid, and an environment is not one; "
           "the correlations of h with the true coordinates are in evaluation.json")


# ----------------------------------------------------------------------------- pure pieces


def behaviour_log_probs(logits, epsilon: float):
    """log μ(·) of the ε-greedy behaviour μ = (1 − ε)·softmax(logits) + ε/A: logits [..., A] -> [..., A]."""
    a = logits.shape[-1]
    log_pi = jax.nn.log_softmax(logits, axis=-1)
    if epsilon == 0:
        return log_pi
    return jnp.logaddexp(jnp.log1p(-epsilon) + log_pi, jnp.log(epsilon / a))


def epsilon_greedy(key, logits, epsilon: float):
    """Actions [...] drawn from μ = (1 − ε)·π + ε·uniform, π = softmax(logits [..., A]): with probability ε
    a uniform action, else one drawn from π. One key, split into (coin, π draw, uniform draw)."""
    k_coin, k_pi, k_uniform = jax.random.split(key, 3)
    shape = logits.shape[:-1]
    drawn = jax.random.categorical(k_pi, logits, axis=-1)
    if epsilon == 0:
        return drawn
    explore = jax.random.uniform(k_coin, shape) < epsilon
    return jnp.where(explore, jax.random.randint(k_uniform, shape, 0, logits.shape[-1]), drawn)


def behaviour_rollout(key, env, states, encode, policy, steps: int, epsilon: float):
    """Run `steps` ε-greedy actions from `states` (batched [B]).

    Args:
      key: split into one key per step (each then split by `epsilon_greedy`).
      encode: observations [B, H, W, C] -> h [B, K] (the behaviour's encoder).
      policy: (h [B, K], t) -> logits [B, A] of π at step t.
    Returns:
      {"actions" [T, B] int32, "log_mu" [T, B] (log μ of each action taken), "observations"
      [T + 1, B, H, W, C], "states": the final states [B]}.
    """
    obs = jax.vmap(env.render)(states)
    seen, actions, log_mu = [obs], [], []
    for t, k in enumerate(jax.random.split(key, steps)):
        logits = policy(encode(obs), t)
        a = epsilon_greedy(k, logits, epsilon)
        log_mu.append(jnp.take_along_axis(behaviour_log_probs(logits, epsilon), a[:, None], -1)[:, 0])
        actions.append(a)
        states = jax.vmap(env.step)(states, a)
        obs = jax.vmap(env.render)(states)
        seen.append(obs)
    return {"actions": jnp.stack(actions), "log_mu": jnp.stack(log_mu), "observations": jnp.stack(seen),
            "states": states}


def score_fn(kernel: str, sigma: float = 0.0, floor: float = 1e-3):
    """log A(h', h, φ) of `kernel`: "gaussian" (σ = √K when `sigma` is 0; Thomas et al. (2018), App. A.2)
    or "projection" (log(max{0, ⟨h' − h, φ⟩} + floor); Sec. 4.2)."""
    if kernel == "gaussian":
        return lambda h_next, h, phi: sel.gaussian_kernel_log(h_next, h, phi, sigma=float(sigma) or None)
    if kernel == "projection":
        return lambda h_next, h, phi: sel.positive_projection_log(h_next, h, phi, eps=float(floor))
    raise ConfigError(f"config.controllable_factors.kernel must be gaussian or projection, got {kernel!r}")


def correlation_report(h, coords, names) -> dict:
    """|Pearson correlation| of each learned coordinate h_k with each true coordinate, and per true
    coordinate the best |corr| and the R² of its least-squares fit on (h, 1): h [N, K], coords [N, C]
    (float64 numpy). A constant column correlates 0 with everything."""
    h, coords = np.asarray(h, np.float64), np.asarray(coords, np.float64)
    hc, cc = h - h.mean(0), coords - coords.mean(0)
    hs, cs = np.sqrt((hc**2).sum(0)), np.sqrt((cc**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (hc.T @ cc) / np.outer(hs, cs)
    corr = np.nan_to_num(np.abs(corr), nan=0.0)
    design = np.concatenate([h, np.ones((h.shape[0], 1))], 1)
    r2 = []
    for j in range(coords.shape[1]):
        fit, *_ = np.linalg.lstsq(design, coords[:, j], rcond=None)
        total = float((cc[:, j] ** 2).sum())
        r2.append(1.0 - float(((design @ fit - coords[:, j]) ** 2).sum()) / total if total > 0 else 0.0)
    return {"abs_corr": corr.tolist(), "rows": [f"h{k}" for k in range(h.shape[1])], "columns": list(names),
            "best_abs_corr": {n: float(corr[:, j].max()) for j, n in enumerate(names)},
            "best_factor": {n: int(corr[:, j].argmax()) for j, n in enumerate(names)},
            "r2": {n: r for n, r in zip(names, r2)}}


# ----------------------------------------------------------------------------- model


def build_model(hp, env, config_model=None) -> ControllableFactors:
    """The `ControllableFactors` networks of `hp` (the method's config group) for `env`."""
    extra = {} if config_model is None else {"upsample": config_model.upsample, "downsample": config_model.downsample}
    return ControllableFactors(latent_dim=int(hp.latent_dim), num_actions=int(env.num_actions),
                               image_shape=tuple(env.observation_shape), channels=tuple(hp.channels),
                               hidden=int(hp.hidden), variant=hp.variant, decoder=float(hp.ae_weight) > 0,
                               latent_model=float(hp.model_weight) > 0, **extra)


def _episode(model, hp, env, params, model_state, states, key, *, train: bool, epsilon: float):
    """One episode from `states` [B]: the behaviour pass, then the learning pass (module docstring).

    Returns (out, model_state): out holds h [B, K], h_next, phis [B, n, K], phi_b, behaviour index b,
    logits [T, B, A] of π, actions [T, B], log_pi / log_mu [T, B], the reward R [B], log_w [B], the
    observations [T + 1, B, ...] and final states; model_state is the learning pass's (train mode).
    """
    shared = hp.variant == "shared"
    steps, b_size = int(hp.policy_steps), jax.tree.leaves(states)[0].shape[0]
    k_z, k_choice, k_roll = jax.random.split(key, 3)
    k = int(hp.latent_dim)
    n = int(hp.num_factors) if shared else k
    z = jax.random.normal(k_z, (b_size, n, int(hp.noise_dim))) if shared else None
    b = jax.random.randint(k_choice, (b_size,), 0, n)

    # Behaviour pass: each step's encoding on its own, no gradient, statistics not kept.
    frozen = jax.lax.stop_gradient(params)
    enc = lambda obs: apply_network(model, frozen, model_state, obs, train=train, method="encode")[0]  # noqa: E731
    apply = lambda fn, *a: model.apply({"params": frozen}, *a, method=fn)  # noqa: E731
    phi_mu = {}

    def behaviour_policy(h, t):
        if t == 0:
            phi_mu["b"] = (apply("factors", h, z[jnp.arange(b_size), b]) if shared else jax.nn.one_hot(b, k))
        return apply("policy", h, phi_mu["b"])

    roll = behaviour_rollout(k_roll, env, states, enc, behaviour_policy, steps, epsilon)
    roll = jax.lax.stop_gradient(roll)

    # Learning pass: every observation of the episode in one call.
    obs = roll["observations"]
    flat = obs.reshape(-1, *obs.shape[2:])
    hs, model_state = apply_network(model, params, model_state, flat, train=train, method="encode")
    hs = hs.reshape(steps + 1, b_size, k)
    h, h_next = hs[0], hs[-1]
    p = lambda fn, *a: model.apply({"params": params}, *a, method=fn)  # noqa: E731
    phis = p("factors", h[:, None, :], z) if shared else jnp.broadcast_to(jnp.eye(k), (b_size, k, k))
    phi_b = phis[jnp.arange(b_size), b]
    logits = p("policy", hs[:-1], jnp.broadcast_to(phi_b, (steps, b_size, k)))
    log_pi = jnp.take_along_axis(jax.nn.log_softmax(logits, -1), roll["actions"][..., None], -1)[..., 0]
    score = score_fn(hp.kernel, hp.sigma, hp.projection_floor)
    log_a_all = score(h_next[:, None, :], h[:, None, :], phis)
    reward = sel.selectivity(log_a_all[jnp.arange(b_size), b], log_a_all)
    log_w = jax.lax.stop_gradient(jnp.sum(log_pi - roll["log_mu"], 0))
    return {"h": h, "h_next": h_next, "phis": phis, "phi_b": phi_b, "b": b, "logits": logits,
            "actions": roll["actions"], "log_pi": log_pi, "log_mu": roll["log_mu"], "reward": reward,
            "log_w": log_w, "observations": obs, "states": roll["states"]}, model_state


def _loss(model, hp, env, params, model_state, states, key):
    """The training loss of one batch of start states (module docstring) -> (loss, (metrics, model_state))."""
    out, model_state = _episode(model, hp, env, params, model_state, states, key, train=True,
                                epsilon=float(hp.epsilon))
    p = lambda fn, *a: model.apply({"params": params}, *a, method=fn)  # noqa: E731
    w = jnp.exp(out["log_w"])
    reward = out["reward"]
    direct = -jnp.mean(w * reward)
    value = p("baseline", jax.lax.stop_gradient(out["h"]), jax.lax.stop_gradient(out["phi_b"]))
    reinforce, r_aux = sel.reinforce_loss(out["log_pi"].sum(0), reward, value, w)
    ent = jnp.mean(sel.entropy(out["logits"]))
    loss = direct + reinforce - float(hp.entropy_weight) * ent
    metrics = {"selectivity": jnp.mean(reward), "entropy": ent, **r_aux,
               "importance_weight": jnp.mean(w),
               "greedy_fraction": jnp.mean(out["actions"] == jnp.argmax(out["logits"], -1)),
               "variation_norm": jnp.mean(jnp.linalg.norm(out["h_next"] - out["h"], axis=-1))}
    if float(hp.ae_weight) > 0:
        x = out["observations"][0]
        recon, model_state = apply_network(model, params, model_state, out["h"], train=True, method="decode")
        rec = jnp.mean(jnp.sum(jnp.square(x - recon), axis=(1, 2, 3)))
        loss = loss + float(hp.ae_weight) * rec
        metrics["reconstruction"] = rec
    if float(hp.model_weight) > 0:
        mb = jnp.mean(jnp.sum(jnp.square(out["h_next"] - p("predict", out["h"], out["phi_b"])), -1))
        loss = loss + float(hp.model_weight) * mb
        metrics["model_loss"] = mb
    return loss, (metrics, model_state)


# ----------------------------------------------------------------------------- evaluation


def _split_variables(v):
    return v["params"], {c: x for c, x in v.items() if c != "params"}


def _reachable(env, key, n: int):
    """Every reachable state (`all_states`) where the env lists them, else n fresh ones."""
    if hasattr(env, "all_states"):
        return env.all_states()
    return jax.vmap(env.reset)(jax.random.split(key, n))


def _encoder(model):
    @jax.jit
    def encode(v, obs):
        params, state = _split_variables(v)
        return apply_network(model, params, state, obs, train=False, method="encode")[0]

    def chunked(v, obs, chunk: int = 512):
        return np.concatenate([np.asarray(encode(v, obs[i:i + chunk])) for i in range(0, obs.shape[0], chunk)], 0)

    return chunked


def _greedy_actions(model, hp, v, h, key):
    """argmax π(· | h, φ) for one sampled φ per state ([N]); the separate variant: every policy, [N, K]."""
    if hp.variant == "shared":
        z = jax.random.normal(key, (h.shape[0], int(hp.noise_dim)))
        phi = model.apply(v, h, z, method="factors")
        return jnp.argmax(model.apply(v, h, phi, method="policy"), -1)
    k = int(hp.latent_dim)
    eye = jnp.broadcast_to(jnp.eye(k), (h.shape[0], k, k))
    return jnp.argmax(model.apply(v, jnp.repeat(h[:, None], k, 1), eye, method="policy"), -1)


def _inference_episode(model, hp, env):
    """`_episode` jitted in inference mode (ε = 0, batch norm's running averages): (variables, states,
    key) -> its outputs, for the evaluation and the pictures."""

    @jax.jit
    def episode(v, states, key):
        params, state = _split_variables(v)
        return _episode(model, hp, env, params, state, states, key, train=False, epsilon=0.0)[0]

    return episode


def _evaluations(model, hp, env):
    encode = _encoder(model)
    episode = _inference_episode(model, hp, env)
    greedy_actions = jax.jit(lambda v, h, k: _greedy_actions(model, hp, v, h, k))

    def evaluations(v, key) -> dict:
        k_states, k_fresh, k_episode, k_phi, k_hist = jax.random.split(key, 5)
        every = _reachable(env, k_states, int(hp.eval_states))
        obs = np.asarray(render_states(env, every))
        coords = np.asarray(coordinates_of(env, every))
        h = encode(v, obs)
        report = correlation_report(h, coords, env.coordinate_names)
        fresh = jax.vmap(env.reset)(jax.random.split(k_fresh, int(hp.eval_states)))
        out = episode(v, fresh, k_episode)
        reward, variation = out["reward"], out["h_next"] - out["h"]
        m = int(hp.eval_factors)
        many = jax.vmap(env.reset)(jax.random.split(k_hist, m))
        h_many = jnp.asarray(encode(v, np.asarray(render_states(env, many))))
        greedy = np.asarray(greedy_actions(v, h_many, k_phi))
        names = list(env.action_names)
        if hp.variant == "shared":
            counts = np.bincount(greedy, minlength=len(names))
            hist = {"counts": counts.tolist(), "actions": names, "distinct": int((counts > 0).sum()),
                    "distinct_over_5_percent": int((counts >= 0.05 * m).sum()), "factors": m}
        else:
            counts = np.stack([np.bincount(greedy[:, j], minlength=len(names)) for j in range(greedy.shape[1])])
            hist = {"counts": counts.tolist(), "rows": [f"pi_{j}" for j in range(greedy.shape[1])], "actions": names,
                    "top_action": [names[int(c.argmax())] for c in counts], "states": m}
        return {
            "env": env.name, "states": int(obs.shape[0]),
            "states_are": "every reachable state" if hasattr(env, "all_states") else "fresh states from reset",
            "correlation": report,
            "selectivity": {"mean": float(np.mean(reward)), "ceiling_log_n": float(np.log(
                int(hp.num_factors) if hp.variant == "shared" else int(hp.latent_dim))),
                "states": int(hp.eval_states), "policy": "pi (epsilon 0), inference-mode batch norm"},
            "variation_norm": float(np.mean(np.linalg.norm(np.asarray(variation), axis=-1))),
            "greedy_actions": hist,
            "paper": "Thomas et al. (2018) report figures only (Figs. 2-6), no numbers",
        }

    return evaluations


# ----------------------------------------------------------------------------- pictures


def _figure(**kwargs):
    # A bare Figure draws without a backend: switching pyplot's (matplotlib.use) would blank a notebook's
    # inline plots, and a pyplot figure would linger in its global state.
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _pictures(model, hp, env):
    encode = _encoder(model)
    episode = _inference_episode(model, hp, env)

    def pictures(v, key, workdir) -> list[Path]:
        import matplotlib

        workdir = Path(workdir)
        k_states, k_episode, k_reach = jax.random.split(key, 3)
        paths = []
        m = int(hp.eval_factors)
        states = jax.vmap(env.reset)(jax.random.split(k_states, m))
        out = episode(v, states, k_episode)
        dh, first, h0, phi_b, last = (np.asarray(a) for a in (out["h_next"] - out["h"], out["actions"][0], out["h"],
                                                              out["phi_b"], out["observations"][-1]))
        names = list(env.action_names)
        k = dh.shape[1]
        # Fig. 2a: the variations h' − h of sampled factors, coloured by the (first) action taken.
        fig = _figure(figsize=(5, 4.5))
        ax = fig.subplots()
        cmap = matplotlib.colormaps["tab10"]
        for a, name in enumerate(names):
            sel_a = first == a
            if sel_a.any():
                y = dh[sel_a, 1] if k > 1 else np.zeros(sel_a.sum())
                ax.scatter(dh[sel_a, 0], y, s=6, alpha=0.5, color=cmap(a % 10), label=f"{a}: {name}")
        ax.set_xlabel("h'0 - h0")
        ax.set_ylabel("h'1 - h1" if k > 1 else "")
        ax.set_title(f"{m} variations h' - h of sampled factors (Thomas et al. 2018, Fig. 2a)", fontsize=8)
        ax.legend(fontsize=6, markerscale=2)
        fig.tight_layout()
        paths.append(workdir / "variations.png")
        fig.savefig(paths[-1], dpi=100)

        every = _reachable(env, k_reach, int(hp.eval_states))
        coords = np.asarray(coordinates_of(env, every))
        h = encode(v, np.asarray(render_states(env, every)))
        cnames = list(env.coordinate_names)
        # Fig. 2b: the latent lattice, neighbouring cells joined (grid envs with x, y first).
        if hasattr(env, "all_states") and cnames[:2] == ["x", "y"] and k >= 2:
            rest = np.all(coords[:, 2:] == 0, axis=1)  # e.g. the switch off
            pts, hh = coords[rest, :2], h[rest]
            fig = _figure(figsize=(5, 4.5))
            ax = fig.subplots()
            index = {tuple(c): i for i, c in enumerate(pts.astype(int).tolist())}
            for (x, y), i in index.items():
                for nb in ((x + 1, y), (x, y + 1)):
                    if nb in index:
                        j = index[nb]
                        ax.plot(hh[[i, j], 0], hh[[i, j], 1], color="0.6", lw=0.8)
            sc = ax.scatter(hh[:, 0], hh[:, 1], c=pts[:, 0], cmap="viridis", s=18, zorder=3)
            fig.colorbar(sc, ax=ax, label="true x")
            ax.set_xlabel("h0")
            ax.set_ylabel("h1")
            ax.set_title("h = f(s) of every reachable cell (Thomas et al. 2018, Fig. 2b)", fontsize=8)
            fig.tight_layout()
            paths.append(workdir / "lattice.png")
            fig.savefig(paths[-1], dpi=100)
        # Fig. 4: each h_k against each true coordinate, averaged over the other coordinates.
        fig = _figure(figsize=(3.2 * len(cnames), 3))
        axes = fig.subplots(1, len(cnames), squeeze=False)
        for j, name in enumerate(cnames):
            values = np.unique(coords[:, j])
            ax = axes[0, j]
            for f in range(k):
                ax.plot(values, [h[coords[:, j] == u, f].mean() for u in values], marker=".", label=f"h{f}")
            ax.set_xlabel(name)
        axes[0, 0].legend(fontsize=6)
        fig.suptitle("each h_k against each true coordinate (Thomas et al. 2018, Fig. 4)", fontsize=8)
        fig.tight_layout()
        paths.append(workdir / "factors.png")
        fig.savefig(paths[-1], dpi=100)
        # Fig. 3: the latent model's prediction decoded, next to the real end state.
        if float(hp.model_weight) > 0 and float(hp.ae_weight) > 0:
            rows = 4
            pred = model.apply(v, jnp.asarray(h0[:rows]), jnp.asarray(phi_b[:rows]), method="predict")
            params, state = _split_variables(v)
            start = np.asarray(render_states(env, jax.tree.map(lambda a: a[:rows], states)))
            dec = lambda z: np.asarray(apply_network(model, params, state, z, train=False, method="decode")[0])  # noqa: E731
            h_last = encode(v, last[:rows])
            grid = viz.image_grid([[start[i], last[i], dec(jnp.asarray(h_last))[i], dec(pred)[i]] for i in range(rows)])
            paths.append(workdir / "predictions.png")
            grid.save(paths[-1])
        return paths

    return pictures


# ----------------------------------------------------------------------------- the method


def _build(config, dataset) -> Method:
    hp = config.controllable_factors
    env = dataset
    if not getattr(env, "discrete", False) or not hasattr(env, "step"):
        raise ConfigError(f"controllable_factors acts in a discrete-action env: config.dataset must be one of "
                          f"gridworld, gridworld_redundant, gridworld_switch, digit_gridworld, got "
                          f"{getattr(env, 'name', type(env).__name__)!r}")
    side = 2 ** len(hp.channels)
    height, width = env.observation_shape[:2]
    if height % side or width % side:
        raise ConfigError(f"config.controllable_factors.channels: {len(hp.channels)} stride-2 layers need image sides "
                          f"divisible by {side}, got {height}x{width}")
    score_fn(hp.kernel)
    model = build_model(hp, env, config.model)
    tx = make_optimizer(config.optimizer)

    def loss_fn(params, states, key, state):
        return _loss(model, hp, env, params, state.extra["model_state"], states, key)

    def keep_statistics(state, model_state, batch, key):
        return {**state.extra, "model_state": model_state}, {}

    def init_state(key, states):
        obs = jax.vmap(env.render)(jax.tree.map(lambda a: a[:2], states))
        z = jnp.zeros((2, int(hp.noise_dim)))
        v = model.init(key, obs, z, train=False)
        params = v.pop("params")
        return TrainState.create(params, tx, model_state=dict(v))

    def sample_batch(key, batch_size):
        return jax.vmap(env.reset)(jax.random.split(key, batch_size))

    return Method(
        name=config.method, model=model, dataset=env,
        init_state=jax.jit(init_state),
        train_step=make_train_step(loss_fn, tx, update_extra=keep_statistics),
        sample_batch=sample_batch,
        codes={}, no_code=NO_CODE,
        variables_of=lambda state: variables(state.params, state.extra["model_state"]),
        pictures=_pictures(model, hp, env),
        evaluations=_evaluations(model, hp, env),
    )


def _check(c):
    hp = c.controllable_factors
    if int(c.batch_size) < 2:
        raise ConfigError(f"config.batch_size must be >= 2 for controllable_factors (batch norm over the batch), "
                          f"got {c.batch_size}")
    if hp.variant == "separate" and int(hp.latent_dim) < 2:
        raise ConfigError(f"config.controllable_factors.latent_dim must be >= 2 with variant=separate (K policies "
                          f"scored against each other), got {hp.latent_dim}")
    if hp.variant == "shared" and int(hp.num_factors) < 2:
        raise ConfigError(f"config.controllable_factors.num_factors must be >= 2 (Eq. 1 compares the behaviour factor "
                          f"with the others), got {hp.num_factors}")


_A1 = "Thomas et al. (2018), App. A.1"
CONTROLLABLE_FACTORS = register(MethodSpec(
    name="controllable_factors", build=_build, paper="Thomas et al. (2018)",
    summary="independently controllable factors: encoder, factor generator and policies trained by acting to "
            "maximise the selectivity (Eq. 1) with REINFORCE",
    shared_defaults={"optimizer.learning_rate": 5e-4, "batch_size": 64, "dataset": "gridworld_redundant"},
    hyperparameters=(
        Hyperparameter("variant", "shared", "shared: factors phi = Phi(h, z) and one policy pi(a|h, phi); separate: "
                       "K policies pi_k(a|h) with phi = e_k, no Phi", "Thomas et al. (2018), Sec. 3 / App. B.1",
                       one_of("shared", "separate")),
        Hyperparameter("latent_dim", 2, "K, dimensions of h = f(s) (and of phi)",
                       "Thomas et al. (2018), Sec. 4.1: K = 2 for the figures", at_least(1)),
        Hyperparameter("noise_dim", 2, "m, dimensions of the noise z ~ N(0, I) of Phi(h, z)", f"{_A1}: 2",
                       at_least(1)),
        Hyperparameter("num_factors", 256, "n, factors phi sampled per state; Eq. 1's denominator is their mean score",
                       f"{_A1}: 256 or 1024", at_least(2)),
        Hyperparameter("kernel", "gaussian", "the score A: gaussian exp(-|h' - h - phi|^2 / 2 sigma^2) or projection "
                       "max{0, <h' - h, phi>}", "Thomas et al. (2018), Sec. 4.1 / 4.2",
                       one_of("gaussian", "projection")),
        Hyperparameter("sigma", 0.0, "the Gaussian kernel's width; 0 = sqrt(K)", "Thomas et al. (2018), App. A.2",
                       at_least(0.0)),
        Hyperparameter("projection_floor", 1e-3, "eps of log(A + eps) for the projection score",
                       "chosen (the paper does not say how it takes the log of a zero score)", greater_than(0.0)),
        Hyperparameter("policy_steps", 1, "actions per episode (the policies' horizon)",
                       "Thomas et al. (2018): 1 in Sec. 4.1, 3 in Sec. 4.2", at_least(1)),
        Hyperparameter("epsilon", 0.1, "epsilon of the epsilon-greedy behaviour (1 - eps) pi + eps uniform",
                       "chosen (App. B.3 mentions epsilon-greedy, no value)", between(0.0, 0.999)),
        Hyperparameter("entropy_weight", 0.01, "beta_H of the entropy bonus H(pi)",
                       "chosen (App. D adds the bonus, no weight)", at_least(0.0)),
        Hyperparameter("ae_weight", 1.0, "lambda_AE of the reconstruction error |s - g(f(s))|^2 (summed over "
                       "pixels); 0: no decoder", "chosen (App. D uses the loss, no weight); 0 in App. B.1",
                       at_least(0.0)),
        Hyperparameter("model_weight", 0.0, "lambda_MB of the latent model loss |h' - T(h, phi)|^2; 0: no model",
                       "Thomas et al. (2018), Sec. 4.2 (weight chosen: 1 there)", at_least(0.0)),
        Hyperparameter("channels", (32, 32, 32, 32), "channels of the encoder's stride-2 convolutions (the decoder's "
                       "in reverse)", f"{_A1}: 4 layers (widths chosen)", positive_ints()),
        Hyperparameter("hidden", 64, "units of the hidden layer of Phi, pi, V and T",
                       f"{_A1}: 2 fully connected layers (width chosen)", at_least(1)),
        Hyperparameter("eval_states", 256, "fresh states of the evaluation's selectivity", "chosen", at_least(2)),
        Hyperparameter("eval_factors", 1000, "sampled factors of the greedy-action histogram and of Fig. 2a",
                       "Thomas et al. (2018), Fig. 2a: 1000", at_least(1)),
    ),
    check=_check,
))
