"""LQR and iLQR (disentax.control) against brute force: a numpy Riccati loop in homogeneous coordinates, the
infinite-horizon gain of scipy's DARE, the Newton solution of the stacked quadratic program, jax.grad of the
rollout cost (first-order optimality), and scipy's L-BFGS-B on the same nonlinear problems."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

from disentax.control import ilqr, lqr, lqr_rollout, quadratic_costs, rollout, trajectory_cost, warm_start


def _random_problem(seed, T, n, m, time_varying=True):
    rng = np.random.default_rng(seed)
    shape = (T,) if time_varying else (1,)
    A = np.eye(n) + 0.3 * rng.normal(size=shape + (n, n))
    B = rng.normal(size=shape + (n, m))
    c = 0.1 * rng.normal(size=shape + (n,))
    if not time_varying:
        A, B, c = (np.repeat(a, T, axis=0) for a in (A, B, c))
    L = rng.normal(size=(n, n))
    Q = L @ L.T / n
    Lr = rng.normal(size=(m, m))
    R = Lr @ Lr.T / m + 0.5 * np.eye(m)
    Qf = 3.0 * Q + np.eye(n)
    goal = rng.normal(size=n)
    x0 = rng.normal(size=n)
    return A, B, c, Q, R, Qf, goal, x0


def _numpy_riccati(A, B, c, Q, R, Qf, goal):
    """Plain LQR on the homogeneous state z = [x; 1] (affine dynamics and the goal folded into the matrices),
    an explicit loop over time: the same answer as lqr's affine recursion by a different route."""
    T, n, m = B.shape
    Qh = np.zeros((n + 1, n + 1))
    Qh[:n, :n], Qh[:n, n], Qh[n, :n], Qh[n, n] = Q, -Q @ goal, -goal @ Q, goal @ Q @ goal
    Qfh = np.zeros((n + 1, n + 1))
    Qfh[:n, :n], Qfh[:n, n], Qfh[n, :n], Qfh[n, n] = Qf, -Qf @ goal, -goal @ Qf, goal @ Qf @ goal
    P = Qfh
    Ps, Ks = [P], []
    for t in reversed(range(T)):
        Ah = np.eye(n + 1)
        Ah[:n, :n], Ah[:n, n] = A[t], c[t]
        Bh = np.zeros((n + 1, m))
        Bh[:n] = B[t]
        Kh = -np.linalg.solve(R + Bh.T @ P @ Bh, Bh.T @ P @ Ah)
        P = Qh + Ah.T @ P @ Ah + Ah.T @ P @ Bh @ Kh
        Ps.append(P)
        Ks.append(Kh)
    return Ks[::-1], Ps[::-1]


def _lqr_cost(A, B, c, Q, R, Qf, goal, x0, us):
    xs = [x0]
    for t in range(us.shape[0]):
        xs.append(A[t] @ xs[-1] + B[t] @ us[t] + c[t])
    xs = jnp.stack(xs)
    d = xs - goal
    running = jnp.sum(jnp.einsum("ti,ij,tj->t", d[:-1], Q, d[:-1]) + jnp.einsum("ti,ij,tj->t", us, R, us))
    return running + d[-1] @ Qf @ d[-1]


def test_lqr_matches_numpy_riccati_loop_and_value():
    with jax.enable_x64(True):
        A, B, c, Q, R, Qf, goal, x0 = _random_problem(0, T=7, n=3, m=2)
        K, k, P, p = lqr(A, B, c, Q, R, Qf, goal)
        Kh, Ph = _numpy_riccati(A, B, c, Q, R, Qf, goal)
        n = 3
        np.testing.assert_allclose(K, np.stack([Kt[:, :n] for Kt in Kh]), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(k, np.stack([Kt[:, n] for Kt in Kh]), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(P, np.stack([Pt[:n, :n] for Pt in Ph]), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p, np.stack([Pt[:n, n] for Pt in Ph]), rtol=1e-10, atol=1e-12)
        # The optimal cost is the cost-to-go at x0: [x0; 1]ᵀ P̂_0 [x0; 1].
        xs, us = lqr_rollout(A, B, c, K, k, x0)
        z0 = np.append(x0, 1.0)
        np.testing.assert_allclose(_lqr_cost(A, B, c, Q, R, Qf, goal, x0, us), z0 @ Ph[0] @ z0, rtol=1e-10)
        assert xs.shape == (8, 3) and us.shape == (7, 2)
        np.testing.assert_allclose(xs[0], x0)
        np.testing.assert_allclose(xs[1], A[0] @ x0 + B[0] @ us[0] + c[0], rtol=1e-12)


def test_lqr_long_horizon_first_gain_is_the_dare_gain():
    with jax.enable_x64(True):
        A, B, _, Q, R, _, _, _ = _random_problem(1, T=300, n=3, m=2, time_varying=False)
        Q = Q + 0.1 * np.eye(3)  # detectable, so the Riccati recursion converges to the stabilising solution
        K, k, P, _ = lqr(A, B, np.zeros((300, 3)), Q, R, Q)
        P_inf = scipy.linalg.solve_discrete_are(A[0], B[0], Q, R)
        K_inf = -np.linalg.solve(R + B[0].T @ P_inf @ B[0], B[0].T @ P_inf @ A[0])
        np.testing.assert_allclose(P[0], P_inf, rtol=1e-8)
        np.testing.assert_allclose(K[0], K_inf, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(k, 0.0, atol=1e-12)


def test_lqr_plan_is_optimal():
    """Random perturbations of the open-loop LQR plan never cost less, the gradient there is ~0, and the plan
    equals the Newton solution of the quadratic program in the stacked controls."""
    with jax.enable_x64(True):
        A, B, c, Q, R, Qf, goal, x0 = _random_problem(2, T=6, n=3, m=2)
        K, k, _, _ = lqr(A, B, c, Q, R, Qf, goal)
        _, us = lqr_rollout(A, B, c, K, k, x0)

        def cost(u):
            return _lqr_cost(A, B, c, Q, R, Qf, goal, x0, u)

        J = cost(us)
        deltas = jax.random.normal(jax.random.key(0), (64,) + us.shape, jnp.float64)
        for scale in (1e-3, 1.0, 100.0):
            perturbed = jax.vmap(cost)(us + scale * deltas)
            assert np.all(perturbed >= J - 1e-9 * abs(J))
        assert np.max(np.abs(jax.grad(cost)(us))) < 1e-9 * (1 + abs(J))
        flat = lambda v: cost(v.reshape(us.shape))  # noqa: E731
        zero = jnp.zeros(us.size)
        newton = -np.linalg.solve(jax.hessian(flat)(zero), jax.grad(flat)(zero))
        np.testing.assert_allclose(us.reshape(-1), newton, rtol=1e-8, atol=1e-10)


def test_lqr_extremes():
    with jax.enable_x64(True):
        A, B, c, Q, R, Qf, goal, x0 = _random_problem(3, T=5, n=3, m=2)
        # Nothing charged on the states: no control is worth its price.
        K, k, P, p = lqr(A, B, c, 0 * Q, R, 0 * Qf, goal)
        assert np.all(K == 0) and np.all(k == 0) and np.all(P == 0) and np.all(p == 0)
        # Very expensive controls: the plan is ~0 and finite.
        K, k, _, _ = lqr(A, B, c, Q, 1e12 * R, Qf, goal)
        _, us = lqr_rollout(A, B, c, K, k, x0)
        assert np.all(np.isfinite(us)) and np.max(np.abs(us)) < 1e-8
        # Free controls (R tiny) on a fully actuated system: the first control lands on the goal's optimum.
        n = 3
        Bsq = np.repeat(np.eye(n)[None], 5, axis=0)
        K, k, _, _ = lqr(A, Bsq, c, Q + np.eye(n), 1e-12 * np.eye(n), Qf, goal)
        xs, _ = lqr_rollout(A, Bsq, c, K, k, x0)
        np.testing.assert_allclose(xs[1:], np.broadcast_to(goal, (5, n)), atol=1e-6)


def test_ilqr_on_a_linear_system_is_lqr():
    with jax.enable_x64(True):
        A, B, c, Q, R, Qf, goal, x0 = _random_problem(4, T=12, n=3, m=2, time_varying=False)
        K, k, _, _ = lqr(A, B, c, Q, R, Qf, goal)
        xs_lqr, us_lqr = lqr_rollout(A, B, c, K, k, x0)

        def linear(x, u):
            return A[0] @ x + B[0] @ u + c[0]

        for iterations in (1, 2):
            res = ilqr(linear, x0, jnp.zeros((12, 2)), Q, R, Qf, goal, iterations=iterations)
            np.testing.assert_allclose(res.us, us_lqr, rtol=1e-8, atol=1e-8)
            np.testing.assert_allclose(res.xs, xs_lqr, rtol=1e-8, atol=1e-8)
            assert bool(res.converged)
        np.testing.assert_allclose(res.costs[1], res.costs[2], rtol=1e-12)


def _unicycle(x, u):
    dt = 0.1
    px, py, th = x
    v, w = u
    return jnp.stack([px + dt * v * jnp.cos(th), py + dt * v * jnp.sin(th), th + dt * w])


def _pendulum(x, u):
    dt = 0.05
    om = x[1] + dt * (-9.8 * jnp.sin(x[0]) - 0.1 * x[1] + u[0])
    return jnp.stack([x[0] + dt * om, om])


UNICYCLE = dict(Q=0.1 * np.eye(3), R=0.05 * np.eye(2), Qf=50.0 * np.eye(3), x_goal=np.array([1.0, 2.0, 0.5]))
PENDULUM = dict(Q=np.diag([1.0, 0.1]), R=0.01 * np.eye(1), Qf=100.0 * np.eye(2), x_goal=np.array([np.pi, 0.0]))


def _scipy_cost(dynamics, x0, T, m, weights, bounds=None):
    running, final = quadratic_costs(weights["Q"], weights["R"], weights["Qf"], weights["x_goal"])

    @jax.jit
    def value_and_grad(u):
        return jax.value_and_grad(lambda v: trajectory_cost(running, final, rollout(dynamics, x0, v), v))(
            u.reshape(T, m))

    def fun(u):
        J, g = value_and_grad(jnp.asarray(u))
        return float(J), np.asarray(g, np.float64).reshape(-1)

    box = None if bounds is None else [(-bounds, bounds)] * (T * m)
    out = scipy.optimize.minimize(fun, np.zeros(T * m), jac=True, method="L-BFGS-B", bounds=box,
                                  options=dict(maxiter=5000, ftol=1e-15, gtol=1e-10))
    return out.fun


@pytest.mark.parametrize("system", ["unicycle", "pendulum"])
def test_ilqr_nonlinear_descends_to_a_stationary_plan(system):
    dynamics, weights, x0, T, m = {
        "unicycle": (_unicycle, UNICYCLE, np.array([0.0, 0.0, 0.0]), 30, 2),
        "pendulum": (_pendulum, PENDULUM, np.array([0.0, 0.0]), 40, 1),
    }[system]
    with jax.enable_x64(True):
        res = jax.jit(lambda x: ilqr(dynamics, x, jnp.zeros((T, m)), **weights, iterations=40))(jnp.asarray(x0))
        costs = np.asarray(res.costs)
        assert np.all(np.diff(costs) <= 0.0)
        assert costs[-1] < 0.5 * costs[0]
        running, final = quadratic_costs(weights["Q"], weights["R"], weights["Qf"], weights["x_goal"])

        def total(u):
            return trajectory_cost(running, final, rollout(dynamics, jnp.asarray(x0), u), u)

        np.testing.assert_allclose(total(res.us), res.cost, rtol=1e-12)
        np.testing.assert_allclose(rollout(dynamics, jnp.asarray(x0), res.us), res.xs, rtol=1e-12, atol=1e-12)
        grad = jax.grad(total)(res.us)
        assert np.max(np.abs(grad)) < 1e-7 * (1 + float(res.cost)), np.max(np.abs(grad))
        assert bool(res.converged)
        # A quasi-Newton optimiser on the same problem finds no better plan.
        assert float(res.cost) <= _scipy_cost(dynamics, jnp.asarray(x0), T, m, weights) * (1 + 1e-6)


def test_ilqr_bounds_are_respected():
    bound = 2.0
    with jax.enable_x64(True):
        x0 = jnp.zeros(2)
        res = ilqr(_pendulum, x0, 5.0 * jnp.ones((40, 1)), **PENDULUM, iterations=40, u_bound=bound)
        assert np.max(np.abs(res.us)) <= bound
        assert np.sum(np.abs(res.us) == bound) >= 5  # the swing-up needs more torque than allowed
        assert np.all(np.diff(np.asarray(res.costs)) <= 0.0)
        assert np.max(np.abs(res.us)) <= bound and np.isfinite(res.cost)
        unbounded = ilqr(_pendulum, x0, jnp.zeros((40, 1)), **PENDULUM, iterations=40)
        assert float(res.cost) > float(unbounded.cost)
        # Clipping in the forward pass is a heuristic for the box: it should still land within a few percent
        # of a box-constrained quasi-Newton optimum.
        reference = _scipy_cost(_pendulum, x0, 40, 1, PENDULUM, bounds=bound)
        assert float(res.cost) <= 1.05 * reference, (float(res.cost), reference)


def test_ilqr_vmap_jit_eager_agree_and_float32():
    def plan(x0):
        return ilqr(_unicycle, x0, jnp.zeros((20, 2)), **UNICYCLE, iterations=10)

    with jax.enable_x64(True):
        x0s = jax.random.normal(jax.random.key(1), (5, 3), jnp.float64)
        batched = jax.jit(jax.vmap(plan))(x0s)
        for i in range(5):
            single = jax.jit(plan)(x0s[i])
            eager = plan(x0s[i]) if i == 0 else single
            for a, b, e in zip(jax.tree.leaves(batched), jax.tree.leaves(single), jax.tree.leaves(eager)):
                np.testing.assert_allclose(a[i], b, rtol=1e-9, atol=1e-12)
                np.testing.assert_allclose(e, b, rtol=1e-9, atol=1e-12)
    res = jax.jit(plan)(jnp.zeros(3, jnp.float32))
    assert res.us.dtype == jnp.float32 and res.cost.dtype == jnp.float32
    assert np.all(np.diff(np.asarray(res.costs)) <= 0.0) and bool(res.converged)


def test_ilqr_general_costs_and_warm_start():
    """A non-quadratic running cost through jax.hessian, and a warm start from the shifted plan: re-planning
    from the next state of a converged plan beats a cold start given the same few iterations."""
    with jax.enable_x64(True):
        goal = jnp.asarray(UNICYCLE["x_goal"])

        def running(x, u):  # a smooth (pseudo-Huber) distance to the goal and a quartic control price
            return 0.1 * jnp.sum(jnp.sqrt(1.0 + (x - goal) ** 2) - 1.0) + 0.05 * jnp.sum(u**2 + u**4)

        def final(x):
            return 50.0 * jnp.sum((x - goal) ** 2)

        x0 = jnp.zeros(3)
        res = ilqr(_unicycle, x0, jnp.zeros((30, 2)), iterations=40, running_cost=running, final_cost=final)
        grad = jax.grad(lambda u: trajectory_cost(running, final, rollout(_unicycle, x0, u), u))(res.us)
        assert np.max(np.abs(grad)) < 1e-7 * (1 + float(res.cost)) and bool(res.converged)
        assert np.all(np.diff(np.asarray(res.costs)) <= 0.0)

        shifted = warm_start(res.us)
        np.testing.assert_array_equal(shifted[:-1], res.us[1:])
        np.testing.assert_array_equal(shifted[-1], res.us[-1])
        np.testing.assert_array_equal(warm_start(res.us, fill=0.0)[-1], jnp.zeros(2))
        again = ilqr(_unicycle, res.xs[1], shifted, iterations=3, running_cost=running, final_cost=final)
        cold = ilqr(_unicycle, res.xs[1], jnp.zeros((30, 2)), iterations=3, running_cost=running, final_cost=final)
        assert np.all(np.diff(np.asarray(again.costs)) <= 0.0)
        assert float(again.costs[0]) < float(cold.cost) and float(again.cost) < 0.95 * float(cold.cost)


def test_bad_inputs():
    with pytest.raises(ValueError, match="u_init"):
        ilqr(_unicycle, jnp.zeros(3), jnp.zeros(20), **UNICYCLE)
    with pytest.raises(ValueError, match="Q, R and Qf"):
        ilqr(_unicycle, jnp.zeros(3), jnp.zeros((20, 2)))
    with pytest.raises(ValueError, match="A, B, c"):
        lqr(np.eye(2), np.ones((2, 1)), np.zeros(2), np.eye(2), np.eye(1), np.eye(2))


def test_ilqr_regularisation_rescues_negative_curvature():
    """A double-well control price (u² − 1)² has ℓ_uu < 0 near u = 0: the Cholesky factor of Q_uu fails, μ must
    grow until Q_uu + μI is positive definite, then shrink again as the plan settles into a well."""
    with jax.enable_x64(True):
        def integrator(x, u):
            return x + 0.1 * u

        def running(x, u):
            return jnp.sum((u**2 - 1.0) ** 2) + 0.01 * jnp.sum(x**2)

        def final(x):
            return jnp.sum(x**2)

        x0 = jnp.array([0.3])
        res = ilqr(integrator, x0, 0.05 * jnp.ones((10, 1)), iterations=30, running_cost=running, final_cost=final)
        assert np.all(np.diff(np.asarray(res.costs)) <= 0.0)
        assert float(res.costs[1]) == float(res.costs[0])  # μ = 0: Q_uu indefinite, the first iteration is rejected
        assert float(res.cost) < 0.5 * float(res.costs[0])
        grad = jax.grad(lambda u: trajectory_cost(running, final, rollout(integrator, x0, u), u))(res.us)
        assert np.max(np.abs(grad)) < 1e-7 and bool(res.converged)
        assert np.all(np.abs(np.abs(res.us) - 1.0) < 0.2)  # every control sits in one of the wells
        # A heavily regularised start has a positive definite Q_uu + μI at once: a short accepted step, then on.
        slow = ilqr(integrator, x0, 0.05 * jnp.ones((10, 1)), iterations=60, running_cost=running, final_cost=final,
                    mu_init=1e4)
        assert float(slow.costs[1]) < float(slow.costs[0]) and bool(slow.converged)
        np.testing.assert_allclose(slow.cost, res.cost, rtol=1e-9)
