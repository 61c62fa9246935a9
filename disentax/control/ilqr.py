"""Finite-horizon LQR and iLQR planners in pure JAX.

Banijamali, Khajenezhad, Ghodsi & Ghavamzadeh (2018), "Disentangling dynamics and content for control
and planning", plan in their learned latent space with iLQR under the quadratic cost of their Eq. 7,

    J = Σ_{t=1}^T (s_t − s^f)ᵀ Q (s_t − s^f) + u_tᵀ R u_t,

as the locally-linear embedding methods they build on (E2C, RCE) do. This module gives

- `lqr`: the exact solution of a finite-horizon, time-varying, affine-dynamics LQR problem by the
  backward Riccati recursion (`lax.scan` over time), and `lqr_rollout` to run its policy;
- `ilqr`: iterative LQR (Li & Todorov 2004, "Iterative linear quadratic regulator design for nonlinear
  biological movement systems") for any differentiable `dynamics(x, u) -> x_next`, with the
  Levenberg–Marquardt regularisation, its increase/decrease schedule and the backtracking line search
  of Tassa, Erez & Todorov (2012), "Synthesis and stabilization of complex behaviors through online
  trajectory optimization", Sec. II;
- `warm_start`: the previous plan shifted by one step, the usual initial guess for the next call in a
  receding-horizon (MPC) loop.

Cost and time indices (shared by `lqr` and `ilqr`). With states x_0 … x_T (x_0 given) and controls
u_0 … u_{T−1}, where u_t moves x_t to x_{t+1}:

    J = Σ_{t=0}^{T−1} [(x_t − g)ᵀ Q (x_t − g) + u_tᵀ R u_t] + (x_T − g)ᵀ Qf (x_T − g).

No ½ factors. The t = 0 state term is a constant (x_0 is given), so it never changes the optimal
controls; it is kept so that the running cost is one function of (x_t, u_t). Eq. 7 of Banijamali et al.
charges the states s_1 … s_T reached after the actions and T actions: with Qf = Q and s_t = x_t, u_t(Eq. 7)
= u_{t−1}(here), our J equals Eq. 7 plus the constant (x_0 − g)ᵀQ(x_0 − g). A different terminal weight
(Qf ≠ Q) is the usual way to insist on reaching the goal.

Choices where the sources leave room (iLQR):

- Derivatives: the dynamics are linearised by `jax.jacfwd` at the current trajectory (no second-order
  dynamics terms: iLQR, not DDP). The cost's derivatives come from `jax.grad`/`jax.hessian` of the running
  and final cost, so a general `running_cost(x, u)` / `final_cost(x)` works too; for the quadratic cost the
  expansion is exact.
- Regularisation: Q_uu + μI (Levenberg–Marquardt on the control Hessian), with Tassa et al. (2012)'s
  schedule (Sec. II.F): on a rejected iteration Δ ← max(Δ0, Δ·Δ0), μ ← max(μ_min, μ·Δ); on an accepted one
  Δ ← min(1/Δ0, Δ/Δ0), μ ← μ·Δ, or 0 once below μ_min. Defaults Δ0 = 2, μ_min = 1e-6, μ capped at 1e10 as
  in their paper. μ starts at 0 (`mu_init`): with a convex quadratic cost Q_uu = 2R + Bᵀ V_xx B is already
  positive definite in iLQR, and μ = 0 makes the first step on a linear system the exact LQR step. Tassa
  et al. regularise V_xx instead (state-space regularisation); the control-space form is the classical
  Levenberg–Marquardt one the issue asks for and costs nothing extra. A failed Cholesky factorisation (Q_uu
  not positive definite) gives non-finite gains, no step size is accepted, and μ grows: the same path as
  a rejected line search, so everything stays inside one `lax.scan` over a fixed number of iterations.
- Line search: the step sizes α ∈ {1, ½, ¼, …} (`line_search_steps` of them, default 10) are all rolled out
  at once with `vmap`; among those whose cost is finite and decreases by at least `c1` times the expected
  decrease −(α Σ kᵀQ_u + ½α² Σ kᵀQ_uu k) (Tassa et al. 2012, Eq. 13; c1 = 0 by default: any decrease), the
  one with the lowest cost is taken. If none is, the trajectory is kept and μ grows, unless the expected
  decrease of the full step is already at rounding level (≤ 100ε(1 + J)): at a minimum μ is left alone. Hence the cost per
  iteration never increases.
- Control bounds: the forward pass clips u to [−u_bound, u_bound] and the nominal controls are the clipped
  ones, so the returned plan is always feasible and its cost is the cost actually paid. The backward pass
  ignores the bounds (its feedback may push against an active bound, which the clip then absorbs). The
  box-constrained DDP of Tassa, Mansard & Todorov (2014) solves a box QP at every time step and is more than
  a latent-space planner needs here; a tanh squashing u = b·tanh(ũ) would make even a linear-quadratic
  problem non-convex and never reach the bound exactly. The price of the clip, measured on the pendulum
  swing-up of tests/test_ilqr.py with |u| ≤ 2: a plan 1.4 % costlier than L-BFGS-B's box optimum (961.3 vs
  947.7), whose projected gradient does not vanish, so `converged` is false there. Without active bounds
  the same tests reach L-BFGS's optimum to 1e-11.
- Convergence: `converged` is true when the largest |∂J/∂u_t| at the returned plan (by `jax.grad`
  through the rollout; components held at an active bound and pushing outward are dropped) is at most
  `tol · (1 + J)`, tol = √ε of the dtype by default (3.5e-4 in float32, 1.5e-8 in float64: a gradient
  through a T-step rollout carries rounding of about J·ε·T). The iteration count is fixed (a JAX loop of static length): a converged run keeps
  iterating with steps of size ~0, which is harmless.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve


def _sym(M):
    return 0.5 * (M + jnp.swapaxes(M, -1, -2))


def lqr(A, B, c, Q, R, Qf, x_goal=None):
    """Finite-horizon, time-varying LQR with affine dynamics and a goal, solved by the Riccati recursion.

    Dynamics x_{t+1} = A_t x_t + B_t u_t + c_t with A [T, n, n], B [T, n, m], c [T, n]; cost (see the
    module docstring for the time indices and the map onto Banijamali et al. (2018), Eq. 7)

        J = Σ_{t=0}^{T−1} [(x_t − g)ᵀQ(x_t − g) + u_tᵀRu_t] + (x_T − g)ᵀQf(x_T − g),

    Q, Qf [n, n] symmetric positive semi-definite, R [m, m] positive definite, g = `x_goal` [n] (zero if
    None). The cost-to-go is V_t(x) = xᵀP_t x + 2p_tᵀx + const, with P_T = Qf, p_T = −Qf g and, going back,

        H_t = R + B_tᵀP_{t+1}B_t,   K_t = −H_t⁻¹ B_tᵀP_{t+1}A_t,   k_t = −H_t⁻¹ B_tᵀ(P_{t+1}c_t + p_{t+1}),
        P_t = Q + A_tᵀP_{t+1}A_t + A_tᵀP_{t+1}B_t K_t,
        p_t = −Q g + A_tᵀ(P_{t+1}c_t + p_{t+1}) + A_tᵀP_{t+1}B_t k_t.

    The optimal control is u_t = K_t x_t + k_t (Li & Todorov 2004 and any LQR text: the dynamic-programming
    solution of a linear-quadratic problem).

    Returns (K [T, m, n], k [T, m], P [T+1, n, n], p [T+1, n]).
    """
    A, B, c = jnp.asarray(A), jnp.asarray(B), jnp.asarray(c)
    if A.ndim != 3 or B.ndim != 3 or c.ndim != 2:
        raise ValueError(f"A, B, c must be [T, n, n], [T, n, m], [T, n]; got {A.shape}, {B.shape}, {c.shape}")
    n = A.shape[-1]
    g = jnp.zeros((n,), A.dtype) if x_goal is None else jnp.asarray(x_goal)
    Q, R, Qf = jnp.asarray(Q), jnp.asarray(R), jnp.asarray(Qf)
    PT, pT = Qf, -Qf @ g

    def back(carry, abc):
        P1, p1 = carry
        At, Bt, ct = abc
        PB = P1 @ Bt
        H = _sym(R + Bt.T @ PB)
        lin = P1 @ ct + p1
        factor = cho_factor(H, lower=True)
        K = -cho_solve(factor, PB.T @ At)
        k = -cho_solve(factor, Bt.T @ lin)
        P = _sym(Q + At.T @ P1 @ At + At.T @ PB @ K)
        p = -Q @ g + At.T @ lin + At.T @ (PB @ k)
        return (P, p), (K, k, P, p)

    _, (K, k, P, p) = jax.lax.scan(back, (PT, pT), (A, B, c), reverse=True)
    P = jnp.concatenate([P, PT[None]], axis=0)
    p = jnp.concatenate([p, pT[None]], axis=0)
    return K, k, P, p


def lqr_rollout(A, B, c, K, k, x0):
    """Run the affine feedback policy u_t = K_t x_t + k_t on x_{t+1} = A_t x_t + B_t u_t + c_t from x0.

    Returns (xs [T+1, n] with xs[0] = x0, us [T, m]).
    """
    def step(x, mats):
        At, Bt, ct, Kt, kt = mats
        u = Kt @ x + kt
        x_next = At @ x + Bt @ u + ct
        return x_next, (x_next, u)

    x0 = jnp.asarray(x0)
    _, (xs, us) = jax.lax.scan(step, x0, (A, B, c, K, k))
    return jnp.concatenate([x0[None], xs], axis=0), us


class ILQRResult(NamedTuple):
    """What `ilqr` returns.

    xs [T+1, n], us [T, m]: the final plan (us within the bounds, xs its rollout from x0);
    cost: J of the final plan; costs [iterations+1]: J of the initial guess, then after each iteration
    (never increasing); converged: the first-order test of the module docstring; grad_norm: the largest
    projected |∂J/∂u_t| at the final plan; mu: the regularisation after the last iteration (to pass on as
    `mu_init` when warm-starting); accepted: how many iterations took a step.
    """

    xs: jax.Array
    us: jax.Array
    cost: jax.Array
    costs: jax.Array
    converged: jax.Array
    grad_norm: jax.Array
    mu: jax.Array
    accepted: jax.Array


def quadratic_costs(Q, R, Qf, x_goal):
    """The running and final cost of the module docstring as functions: (x − g)ᵀQ(x − g) + uᵀRu and
    (x − g)ᵀQf(x − g) (Banijamali et al. (2018), Eq. 7 with a terminal weight)."""
    Q, R, Qf = jnp.asarray(Q), jnp.asarray(R), jnp.asarray(Qf)
    g = jnp.zeros((Q.shape[-1],), Q.dtype) if x_goal is None else jnp.asarray(x_goal)

    def running(x, u):
        d = x - g
        return d @ Q @ d + u @ R @ u

    def final(x):
        d = x - g
        return d @ Qf @ d

    return running, final


def rollout(dynamics: Callable, x0, us):
    """States x_0 … x_T of x_{t+1} = dynamics(x_t, u_t) from x0 under controls us [T, m]; returns [T+1, n]."""
    def step(x, u):
        x_next = dynamics(x, u)
        return x_next, x_next

    x0 = jnp.asarray(x0)
    _, xs = jax.lax.scan(step, x0, us)
    return jnp.concatenate([x0[None], xs], axis=0)


def trajectory_cost(running_cost: Callable, final_cost: Callable, xs, us):
    """J = Σ_{t<T} running_cost(x_t, u_t) + final_cost(x_T) for xs [T+1, n], us [T, m]."""
    return jnp.sum(jax.vmap(running_cost)(xs[:-1], us)) + final_cost(xs[-1])


def warm_start(us, fill=None):
    """The previous plan shifted by one step for the next receding-horizon call: [u_1, …, u_{T−1}, f], where f
    is `fill` ([m]) or, if None, u_{T−1} repeated (a common MPC warm start; Tassa et al. 2012, Sec. III)."""
    us = jnp.asarray(us)
    last = us[-1] if fill is None else jnp.broadcast_to(jnp.asarray(fill, us.dtype), us.shape[1:])
    return jnp.concatenate([us[1:], last[None]], axis=0)


def ilqr(
    dynamics: Callable,
    x0,
    u_init,
    Q=None,
    R=None,
    Qf=None,
    x_goal=None,
    *,
    iterations: int = 20,
    u_bound=None,
    running_cost: Callable | None = None,
    final_cost: Callable | None = None,
    mu_init: float = 0.0,
    mu_min: float = 1e-6,
    mu_max: float = 1e10,
    delta0: float = 2.0,
    line_search_steps: int = 10,
    c1: float = 0.0,
    tol: float | None = None,
) -> ILQRResult:
    """Iterative LQR (Li & Todorov 2004) with the regularisation schedule and line search of Tassa, Erez &
    Todorov (2012), planning T = len(u_init) steps of `dynamics(x, u) -> x_next` from x0.

    Minimises J = Σ_{t<T} ℓ(x_t, u_t) + ℓ_f(x_T), by default the quadratic cost of Banijamali et al. (2018),
    Eq. 7, ℓ = (x − g)ᵀQ(x − g) + uᵀRu, ℓ_f = (x − g)ᵀQf(x − g) with g = `x_goal` (time indices in the module
    docstring); or `running_cost(x, u)` / `final_cost(x)` when given (then Q, R, Qf, x_goal are unused).

    Each iteration: linearise the dynamics along the current trajectory (A_t = ∂f/∂x, B_t = ∂f/∂u by
    `jax.jacfwd`), expand the cost to second order, run the backward pass (Tassa et al. 2012, Eqs. 5 and 11)

        Q_x = ℓ_x + A_tᵀV'_x,   Q_u = ℓ_u + B_tᵀV'_x,   Q_xx = ℓ_xx + A_tᵀV'_xxA_t,
        Q_uu = ℓ_uu + B_tᵀV'_xxB_t,   Q_ux = ℓ_ux + B_tᵀV'_xxA_t,
        k_t = −(Q_uu + μI)⁻¹Q_u,   K_t = −(Q_uu + μI)⁻¹Q_ux,
        V_x = Q_x + K_tᵀQ_uu k_t + K_tᵀQ_u + Q_uxᵀk_t,   V_xx = Q_xx + K_tᵀQ_uuK_t + K_tᵀQ_ux + Q_uxᵀK_t,

    then the forward passes u_t = clip(ū_t + αk_t + K_t(x_t − x̄_t)), x_{t+1} = f(x_t, u_t) for every α at
    once, and keep the best accepted one (module docstring: line search, regularisation, bounds).

    x0 [n]; u_init [T, m] (clipped to the bounds first); Q, Qf [n, n], R [m, m], x_goal [n] or None (zero);
    `iterations` (static, default 20); `u_bound` a scalar or [m] box half-width, or None; `mu_*`, `delta0`:
    the regularisation schedule; `line_search_steps`: α = 1, ½, … (that many); `c1`: the sufficient-decrease
    ratio; `tol`: the convergence test (None: √ε of the dtype). jit/vmap-safe: wrap in `jax.jit` with `dynamics` closed over;
    everything runs in `lax.scan`s of static length. Float32 or float64, following x0.

    Returns an `ILQRResult`.
    """
    if iterations < 1 or line_search_steps < 1:
        raise ValueError(f"iterations and line_search_steps must be >= 1, got {iterations}, {line_search_steps}")
    x0 = jnp.asarray(x0)
    dtype = x0.dtype
    if running_cost is None or final_cost is None:
        if Q is None or R is None or Qf is None:
            raise ValueError("ilqr needs Q, R and Qf unless both running_cost and final_cost are given")
        quad_running, quad_final = quadratic_costs(
            *(None if a is None else jnp.asarray(a, dtype) for a in (Q, R, Qf, x_goal)))
        running_cost = quad_running if running_cost is None else running_cost
        final_cost = quad_final if final_cost is None else final_cost

    u_init = jnp.asarray(u_init, dtype)
    if u_init.ndim != 2:
        raise ValueError(f"u_init must be [T, m], got shape {u_init.shape}")
    m = u_init.shape[-1]

    if u_bound is None:
        def clip(u):
            return u
    else:
        bound = jnp.broadcast_to(jnp.asarray(u_bound, dtype), (m,))

        def clip(u):
            return jnp.clip(u, -bound, bound)

    def total_cost(xs, us):
        return trajectory_cost(running_cost, final_cost, xs, us)

    eps = float(jnp.finfo(dtype).eps)
    tol = eps**0.5 if tol is None else tol
    flat_tol = 100 * eps
    alphas = 0.5 ** jnp.arange(line_search_steps, dtype=dtype)
    eye_m = jnp.eye(m, dtype=dtype)
    lin_dyn = jax.vmap(jax.jacfwd(dynamics, argnums=(0, 1)))
    run_grad = jax.vmap(jax.grad(running_cost, argnums=(0, 1)))
    run_hess = jax.vmap(jax.hessian(running_cost, argnums=(0, 1)))

    def backward(xs, us, mu):
        A, B = lin_dyn(xs[:-1], us)
        lx, lu = run_grad(xs[:-1], us)
        (lxx, _), (lux, luu) = run_hess(xs[:-1], us)
        Vx_T = jax.grad(final_cost)(xs[-1])
        Vxx_T = jax.hessian(final_cost)(xs[-1])

        def step(carry, inputs):
            Vx, Vxx = carry
            At, Bt, lxt, lut, lxxt, luxt, luut = inputs
            Qx = lxt + At.T @ Vx
            Qu = lut + Bt.T @ Vx
            VB = Vxx @ Bt
            Qxx = lxxt + At.T @ Vxx @ At
            Quu = _sym(luut + Bt.T @ VB)
            Qux = luxt + VB.T @ At
            # A non-positive-definite Q_uu + μI makes the Cholesky factor NaN, hence the gains and every
            # line-search cost NaN: the iteration is rejected and μ grows, as in Tassa et al. (2012).
            factor = cho_factor(Quu + mu * eye_m, lower=True)
            kt = -cho_solve(factor, Qu)
            Kt = -cho_solve(factor, Qux)
            Vx_new = Qx + Kt.T @ (Quu @ kt) + Kt.T @ Qu + Qux.T @ kt
            Vxx_new = _sym(Qxx + Kt.T @ Quu @ Kt + Kt.T @ Qux + Qux.T @ Kt)
            return (Vx_new, Vxx_new), (Kt, kt, kt @ Qu, 0.5 * kt @ Quu @ kt)

        _, (K, k, dv1, dv2) = jax.lax.scan(step, (Vx_T, Vxx_T), (A, B, lx, lu, lxx, lux, luu), reverse=True)
        return K, k, jnp.sum(dv1), jnp.sum(dv2)

    def forward(xs, us, K, k, alpha):
        def step(x, inputs):
            x_bar, u_bar, Kt, kt = inputs
            u = clip(u_bar + alpha * kt + Kt @ (x - x_bar))
            x_next = dynamics(x, u)
            return x_next, (x_next, u)

        _, (x_new, u_new) = jax.lax.scan(step, x0, (xs[:-1], us, K, k))
        x_new = jnp.concatenate([x0[None], x_new], axis=0)
        return x_new, u_new, total_cost(x_new, u_new)

    def iteration(carry, _):
        xs, us, J, mu, delta, accepted = carry
        K, k, dv1, dv2 = backward(xs, us, mu)
        x_try, u_try, J_try = jax.vmap(forward, in_axes=(None, None, None, None, 0))(xs, us, K, k, alphas)
        expected = -(alphas * dv1 + alphas**2 * dv2)
        ok = jnp.isfinite(J_try) & (J_try < J) & (J - J_try >= c1 * expected)
        best = jnp.argmin(jnp.where(ok, J_try, jnp.inf))
        take = jnp.any(ok)
        # At a minimum no step can lower J beyond rounding; growing μ there would only leave a huge μ
        # behind (and a useless `mu` for a warm start), so such an iteration leaves μ alone.
        flat = jnp.isfinite(expected[0]) & (expected[0] <= flat_tol * (1.0 + jnp.abs(J)))
        xs = jnp.where(take, x_try[best], xs)
        us = jnp.where(take, u_try[best], us)
        J = jnp.where(take, J_try[best], J)
        # Tassa et al. (2012), Sec. II.F: grow μ quadratically fast on failure, shrink it on success.
        delta_up = jnp.maximum(delta0, delta * delta0)
        mu_up = jnp.minimum(jnp.maximum(mu_min, mu * delta_up), mu_max)
        delta_down = jnp.minimum(1.0 / delta0, delta / delta0)
        mu_down = jnp.where(mu * delta_down > mu_min, mu * delta_down, 0.0)
        delta = jnp.where(take, delta_down, jnp.where(flat, delta, delta_up)).astype(dtype)
        mu = jnp.where(take, mu_down, jnp.where(flat, mu, mu_up)).astype(dtype)
        return (xs, us, J, mu, delta, accepted + take.astype(jnp.int32)), J

    us0 = clip(u_init)
    xs0 = rollout(dynamics, x0, us0)
    J0 = total_cost(xs0, us0)
    carry0 = (xs0, us0, J0, jnp.asarray(mu_init, dtype), jnp.asarray(1.0, dtype), jnp.asarray(0, jnp.int32))
    (xs, us, J, mu, _, accepted), Js = jax.lax.scan(iteration, carry0, None, length=iterations)

    grad = jax.grad(lambda u: total_cost(rollout(dynamics, x0, u), u))(us)
    if u_bound is not None:
        # A component held at its bound whose descent direction points outward is stationary for the box.
        at_upper = (us >= bound) & (grad < 0)
        at_lower = (us <= -bound) & (grad > 0)
        grad = jnp.where(at_upper | at_lower, 0.0, grad)
    grad_norm = jnp.max(jnp.abs(grad))
    converged = grad_norm <= tol * (1.0 + jnp.abs(J))
    return ILQRResult(
        xs=xs, us=us, cost=J, costs=jnp.concatenate([J0[None], Js]), converged=converged,
        grad_norm=grad_norm, mu=mu, accepted=accepted,
    )


__all__ = [
    "ILQRResult", "ilqr", "lqr", "lqr_rollout", "quadratic_costs", "rollout", "trajectory_cost", "warm_start",
]
