"""Maximum mean discrepancy, its witness function and the deep manifold traversal built on it.

Larsson, Nilsson & Kågebäck (2018), "Disentangled representations for manipulation of sentiment in
text", Sec. 2 and 3.2, after Gretton et al. (2012) and Gardner et al. (2015):

- Eq. 1, the MMD of samples X = [x_1..x_m] (source) and Y = [y_1..y_n] (target):
  sup_{f ∈ F} (1/m) Σ f(x_i) − (1/n) Σ f(y_i). Over the unit ball of the RKHS of a kernel k the
  supremum is ‖μ_X − μ_Y‖_H, whose square is Gretton et al.'s (2012) biased estimate
  MMD²_b = mean k(x, x') + mean k(y, y') − 2 mean k(x, y) (Eq. 5 there); their unbiased
  estimate MMD²_u leaves the diagonal terms k(x_i, x_i), k(y_j, y_j) out (Lemma 6 there).
  `mmd2(x, y, sigma, unbiased)` gives either squared estimate, `mmd` the supremum itself.
- Eq. 2, the (unnormalised) witness attaining the supremum:
  f*(z) = (1/m) Σ k(x_i, z) − (1/n) Σ k(y_i, z): large near the source set, small near the target
  set; its mean over X minus its mean over Y is exactly MMD²_b (`witness`).
- The kernel, Sec. 2: k(x, x') = exp(−|x − x'|² / (2σ)). Note σ divides the *squared* distance,
  so it is a variance-like bandwidth (a squared length), not a standard deviation.
- Sec. 3.2, the traversal: with the target codes z^t (n of them), the source codes z^s (m) and the
  code z itself, V = [z^t_1..z^t_n, z^s_1..z^s_m, z] (columns, [D, n + m + 1]),
  z* = z + Vδ and δ = argmin_δ f*(z + Vδ) + λ‖Vδ‖², by BFGS (`traversal_objective`, `traverse`).
  Minimising the witness moves z away from the source set (positive term) towards the target set
  (negative term): that is the sign convention of Eq. 2 with X the source, Y the target. λ is
  Gardner et al.'s "budget of change"; the paper's λ = 7e-5.

What the paper leaves open, chosen here:

- σ is not given. `median_heuristic` returns the median of the pairwise squared distances of the
  reference codes (source and target together): the usual median heuristic (Gretton et al. 2012)
  written for this kernel, whose σ multiplies a squared distance, so the kernel of a typical
  pair is e^{−1/2} and neither saturates at 0 nor flattens at 1 whatever the codes' scale.
- BFGS starts at δ = 0 (z* = z) with jax.scipy's identity initial inverse Hessian and its line
  search; `maxiter` bounds the iterations of each run, and a run that stops early on a line search
  failure is restarted from its point (`bfgs_minimize`, `restarts` = 2).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.optimize import minimize

__all__ = [
    "bfgs_minimize", "gaussian_kernel", "median_heuristic", "mmd", "mmd2", "squared_distances", "traversal_basis",
    "traversal_objective", "traverse", "witness",
]


def squared_distances(x, y):
    """|x_i − y_j|² for every pair: x [m, D], y [n, D] -> [m, n] (by differences, exact at 0 and
    never negative, unlike the |x|² + |y|² − 2x·y expansion)."""
    return jnp.sum(jnp.square(x[:, None, :] - y[None, :, :]), axis=-1)


def gaussian_kernel(x, y, sigma):
    """k(x, x') = exp(−|x − x'|² / (2σ)) for every pair (Larsson et al. (2018), Sec. 2, after
    Gardner et al. (2015)): x [m, D], y [n, D] -> [m, n]; σ > 0 scales the squared distance."""
    return jnp.exp(-squared_distances(x, y) / (2.0 * sigma))


def mmd2(x, y, sigma, unbiased: bool = False):
    """The squared MMD of samples x [m, D] and y [n, D] under the Gaussian kernel (Larsson et al.
    (2018), Eq. 1, estimated as in Gretton et al. (2012)):

    - biased (V-statistic): (1/m²) Σ_ij k(x_i, x_j) + (1/n²) Σ_ij k(y_i, y_j) − (2/mn) Σ_ij k(x_i, y_j),
      ≥ 0, the square of Eq. 1's supremum over the RKHS unit ball;
    - unbiased (U-statistic, m, n ≥ 2): the within-sample sums without their diagonals, divided by
      m(m − 1) and n(n − 1); it can be negative when the two samples are alike.
    Returns a scalar.
    """
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = gaussian_kernel(x, x, sigma), gaussian_kernel(y, y, sigma), gaussian_kernel(x, y, sigma)
    if unbiased:
        if m < 2 or n < 2:
            raise ValueError(f"the unbiased MMD needs at least 2 samples on each side, got {m} and {n}")
        sxx = (jnp.sum(kxx) - jnp.trace(kxx)) / (m * (m - 1))
        syy = (jnp.sum(kyy) - jnp.trace(kyy)) / (n * (n - 1))
    else:
        sxx, syy = jnp.mean(kxx), jnp.mean(kyy)
    return sxx + syy - 2.0 * jnp.mean(kxy)


def mmd(x, y, sigma):
    """Larsson et al. (2018), Eq. 1: sup_{‖f‖_H ≤ 1} (1/m) Σ f(x_i) − (1/n) Σ f(y_i) = ‖μ_x − μ_y‖_H,
    the square root of the biased `mmd2` (clamped at 0 against rounding). Scalar."""
    return jnp.sqrt(jnp.maximum(mmd2(x, y, sigma), 0.0))


def witness(z, source, target, sigma):
    """Larsson et al. (2018), Eq. 2: f*(z) = (1/m) Σ_i k(x_i, z) − (1/n) Σ_i k(y_i, z), x = source
    [m, D], y = target [n, D]; z [D] -> scalar or [B, D] -> [B]. The mean of f* over the source
    minus its mean over the target is the biased MMD² (`mmd2`)."""
    zz = jnp.atleast_2d(z)
    f = jnp.mean(gaussian_kernel(source, zz, sigma), 0) - jnp.mean(gaussian_kernel(target, zz, sigma), 0)
    return f if z.ndim == 2 else f[0]


def traversal_basis(z, target, source):
    """V = [z^t_1..z^t_n, z^s_1..z^s_m, z] as columns (Larsson et al. (2018), Sec. 3.2): z [D],
    target [n, D], source [m, D] -> [D, n + m + 1]."""
    return jnp.concatenate([target, source, z[None]], 0).T


def traversal_objective(delta, z, target, source, sigma, lam):
    """f*(z + Vδ) + λ‖Vδ‖² (Larsson et al. (2018), Sec. 3.2): the witness (Eq. 2, source = the
    codes sharing z's attribute, target = the others) at the moved code plus the budget of change.
    delta [n + m + 1], z [D], target [n, D], source [m, D] -> scalar."""
    step = traversal_basis(z, target, source) @ delta
    return witness(z + step, source, target, sigma) + lam * jnp.sum(jnp.square(step))


def bfgs_minimize(fun, x0, maxiter: int, gtol: float = 1e-6, restarts: int = 2):
    """argmin fun(x) from x0 by BFGS (`jax.scipy.optimize.minimize`, method="BFGS"; Battiti (1990)
    as Larsson et al. (2018) cite it): (x, value, iterations). jit- and vmap-able.

    jax.scipy's strong-Wolfe line search can give up after a step or two (status 3) far from a
    minimum, e.g. on the very first steps of the traversal, whose basis V is strongly correlated.
    The search is then run again from where it stopped, with a fresh (identity) inverse Hessian,
    `restarts` more times (a Python loop: a fixed program), keeping the best point; each run has
    `maxiter` iterations and one that has converged ends at once."""
    x, value, total = x0, fun(x0), jnp.zeros((), jnp.int32)
    for _ in range(1 + int(restarts)):
        res = minimize(fun, x, method="BFGS", options={"maxiter": int(maxiter), "gtol": float(gtol)})
        better = res.fun < value
        x, value = jnp.where(better, res.x, x), jnp.where(better, res.fun, value)
        total = total + res.nit
    return x, value, total


def traverse(z, target_codes, source_codes, sigma, lam, maxiter: int = 200, gtol: float = 1e-6, restarts: int = 2):
    """The deep manifold traversal of Larsson et al. (2018), Sec. 3.2: z* = z + Vδ with
    δ = argmin_δ f*(z + Vδ) + λ‖Vδ‖² by BFGS from δ = 0.

    Args:
      z: [D] one code, or [B, D] (each traversed on its own, vmapped).
      target_codes: [n, D] codes of the attribute to reach; source_codes: [m, D] codes sharing z's.
      sigma: the kernel bandwidth (see `median_heuristic`); lam: the budget of change λ.
      maxiter, gtol, restarts: of `bfgs_minimize`.
    Returns:
      (z* [D] or [B, D], δ [n + m + 1] or [B, n + m + 1]).
    """
    if z.ndim == 2:
        return jax.vmap(lambda one: traverse(one, target_codes, source_codes, sigma, lam, maxiter, gtol, restarts))(z)
    delta0 = jnp.zeros(target_codes.shape[0] + source_codes.shape[0] + 1, z.dtype)
    delta, _, _ = bfgs_minimize(lambda d: traversal_objective(d, z, target_codes, source_codes, sigma, lam),
                                delta0, maxiter, gtol, restarts)
    return z + traversal_basis(z, target_codes, source_codes) @ delta, delta


def median_heuristic(codes):
    """σ for `gaussian_kernel`: the median of |c_i − c_j|² over pairs i < j of codes [N, D] (the
    median heuristic of Gretton et al. (2012) for a kernel whose σ divides the squared distance;
    Larsson et al. (2018) do not give σ). Scalar > 0 unless all codes coincide."""
    d = squared_distances(codes, codes)
    i, j = jnp.triu_indices(codes.shape[0], k=1)
    return jnp.median(d[i, j])
