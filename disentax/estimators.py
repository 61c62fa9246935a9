"""Estimators of the aggregate posterior q(z) and the ELBO decompositions built on them.

The aggregate posterior ("inference marginal") of a dataset of N points is the mixture
q(z) = (1/N) Σ_n q(z | x_n). Training only sees a minibatch of B points, so log q(z_i) at a
sample z_i ~ q(z | x_i) is estimated from the B×B matrix of pairwise log-densities
log q(z_i | x_j) with a weight matrix W (rows: samples i, columns: batch members j):

    log q̂(z_i) = logsumexp_j ( log W[i, j] + log q(z_i | x_j) ),

and likewise per latent dimension (or per group of dimensions) for the marginals q(z_d).
The estimators differ only in W (see `log_importance_weights`):

- ``"mws"``   minibatch weighted sampling (Chen et al. 2018, Sec. 4.1): W[i, j] = 1/(N·B).
- ``"mss"``   minibatch stratified sampling (Chen et al. 2018, App. C.2): W[i, i] = 1/N,
              W[i, (i+1) mod B] = (N − B + 1)/(N(B − 1)), every other entry 1/(B − 1).
- ``"hfvae"`` the partially stratified estimator of Esmaeili et al. 2019 (Sec. 3.1):
              W[i, i] = 1/N, W[i, j≠i] = (N − 1)/(N(B − 1)).
- ``"exact"`` the batch is the whole dataset (B = N): W[i, j] = 1/N, the mixture itself.

Everything is computed in log space with `logsumexp`; nothing exponentiates a B×B×D array
outside it. All functions are pure and jit/vmap/grad-safe; `dataset_size` and the estimator
name are static Python values.
"""
from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
from flax import struct
from jax.scipy.special import logsumexp

from disentax import distributions as dist

ESTIMATORS = ("mws", "mss", "hfvae", "exact")
_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------
# Pairwise log-densities and weights
# --------------------------------------------------------------------------------------


def pairwise_gaussian_log_density(z, mu, logvar):
    """[B, B, D] with entry [i, j, d] = log N(z[i, d]; mu[j, d], exp(logvar[j, d])).

        log N(z; μ, σ²) = −½ (log 2π + log σ² + (z − μ)² / σ²)
    """
    z, mu, logvar = jnp.asarray(z), jnp.asarray(mu), jnp.asarray(logvar)
    _check_latents(z, mu, logvar)
    diff = z[:, None, :] - mu[None, :, :]
    return -0.5 * (_LOG_2PI + logvar[None, :, :] + jnp.square(diff) * jnp.exp(-logvar)[None, :, :])


def pairwise_concrete_log_density(log_y, logits, temperature):
    """[B, B] with entry [i, j] = log Concrete(y_i; logits_j, τ) (Maddison et al. 2017, Eq. 2).

    `log_y` [B, K] is the log of the relaxed one-hot samples (as `concrete_sample_log` returns),
    `logits` [B, K] the encoder's location logits, `temperature` a scalar.
    """
    log_y, logits = jnp.asarray(log_y), jnp.asarray(logits)
    if log_y.ndim != 2 or log_y.shape != logits.shape:
        raise ValueError(f"log_y and logits must both be [B, K]; got {log_y.shape} and {logits.shape}")
    return dist.concrete_log_prob_from_log(log_y[:, None, :], logits[None, :, :], temperature)


def _check_latents(z, mu, logvar):
    if z.ndim != 2 or z.shape != mu.shape or z.shape != logvar.shape:
        raise ValueError(f"z, mu and logvar must all be [B, D]; got {z.shape}, {mu.shape}, {logvar.shape}")


def _check_sizes(batch_size: int, dataset_size: int, estimator: str):
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; allowed: {', '.join(ESTIMATORS)}")
    if int(dataset_size) < int(batch_size):
        raise ValueError(f"dataset_size ({dataset_size}) must be >= the batch size ({batch_size})")
    if estimator in ("mss", "hfvae") and batch_size < 2:
        raise ValueError(f"estimator {estimator!r} needs a batch of at least 2, got {batch_size}")
    if estimator == "exact" and int(dataset_size) != int(batch_size):
        raise ValueError(
            f"estimator 'exact' needs the whole dataset as the batch: batch size {batch_size} != dataset_size {dataset_size}"
        )


def log_importance_weights(batch_size: int, dataset_size: int, estimator: str = "mws", dtype=jnp.float32):
    """log W [B, B]: the weight of q(z_i | x_j) in the estimate of q(z_i) (see module docstring).

    Rows of W sum to 1 for ``mss``, ``hfvae`` and ``exact``; for ``mws`` they sum to 1/N, the
    constant of Chen et al. 2018 (Sec. 4.1, MWS) kept as published (it shifts log q̂ by −log N).
    The constants are computed in Python floats and stored in `dtype` (the latents' dtype where the
    estimators call it), so under `jax_enable_x64` they keep float64 precision.
    """
    B, N = int(batch_size), int(dataset_size)
    _check_sizes(B, N, estimator)
    if estimator == "mws":
        return jnp.full((B, B), -math.log(N * B), dtype)
    if estimator == "exact":
        return jnp.full((B, B), -math.log(N), dtype)
    eye = jnp.eye(B, dtype=bool)
    if estimator == "hfvae":
        off = math.log(N - 1) - math.log(N) - math.log(B - 1) if N > 1 else -math.inf
        return jnp.where(eye, jnp.asarray(-math.log(N), dtype), jnp.asarray(off, dtype))
    # mss: the diagonal (not column 0) holds 1/N; the next index (mod B) the stratum weight.
    nxt = jnp.roll(eye, 1, axis=1)  # True at (i, (i + 1) mod B)
    strat = math.log(N - B + 1) - math.log(N) - math.log(B - 1)
    other = -math.log(B - 1)
    return jnp.where(eye, jnp.asarray(-math.log(N), dtype),
                     jnp.where(nxt, jnp.asarray(strat, dtype), jnp.asarray(other, dtype)))


def _weighted_lse(log_w, pairs):
    """logsumexp_j (log_w[i, j] + pairs[i, j, ...]) over j."""
    extra = pairs.ndim - 2
    return logsumexp(log_w.reshape(log_w.shape + (1,) * extra) + pairs, axis=1)


# --------------------------------------------------------------------------------------
# Flat (per-dimension) estimators and decomposition
# --------------------------------------------------------------------------------------


def log_qz_marginals(z, mu, logvar, dataset_size: int, estimator: str = "mws"):
    """(log q̂(z_i) [B], log q̂(z_i,d) [B, D]): joint and per-dimension aggregate-posterior estimates.

    The same numbers as `logsumexp_j(log W[i, j] + pairwise_gaussian_log_density(z, mu, logvar)...)`
    (summed over d for the joint), computed without storing any [B, B, D] array (see
    `_gaussian_marginals`): at B = 1024 the estimator is then a small part of a conv VAE's step.
    """
    z, mu, logvar = jnp.asarray(z), jnp.asarray(mu), jnp.asarray(logvar)
    _check_latents(z, mu, logvar)
    dtype = jnp.result_type(z, mu, logvar)
    z, mu, logvar = z.astype(dtype), mu.astype(dtype), logvar.astype(dtype)
    log_w = log_importance_weights(z.shape[0], dataset_size, estimator, dtype)
    return _gaussian_marginals(z, mu, logvar, log_w)


# How `_gaussian_marginals` stays fast. On XLA:CPU an elementwise expression over the B·D·B pairwise
# terms that feeds ONE reduction is fused into it and never stored; one that feeds two (the max and
# the sum of a max-stabilised logsumexp) is stored first, and writing 40 MB at B = 1024, D = 10
# costs more than all the arithmetic. So the forward pass is single reductions: the per-dimension
# logsumexp is stabilised by an upper bound known without a pass (a Gaussian log-density is at most
# −½(log 2π + log σ²)), with the max-stabilised form as the fallback when a sum would underflow,
# and the joint is built from D [B, B] terms. The backward pass (a custom VJP; autodiff would keep
# the softmax weights of both logsumexps) stores the pairwise cotangent once and reduces it three
# times. Measured at B = 1024 (benchmarks/RESULTS.md §5): forward 3-4x, forward + backward
# 1.3-1.6x faster than storing the pairwise array.


def _per_dim_terms(z, mu, logvar, log_w):
    """a[d, i, j] = log W[i, j] + log N(z_id; μ_jd, σ²_jd), and its bound over z, c[d, j] = −½(log 2π + log σ²_jd).

    Dimension-major, so the [B, B] weights broadcast along the leading axis."""
    c = (-0.5 * (_LOG_2PI + logvar)).T
    h = (0.5 * jnp.exp(-logvar)).T
    diff = z.T[:, :, None] - mu.T[:, None, :]
    return c[:, None, :] - h[:, None, :] * diff * diff + log_w[None], c


def _exact_per_dim(z, mu, logvar, log_w):
    return logsumexp(_per_dim_terms(z, mu, logvar, log_w)[0], axis=-1).T


def _joint_terms(z, mu, logvar, log_w):
    """[B, B]: log W[i, j] + Σ_d log N(z_id; μ_jd, σ²_jd), one [B, B] term per dimension."""
    c, h = -0.5 * (_LOG_2PI + logvar), 0.5 * jnp.exp(-logvar)
    total = log_w + jnp.sum(c, axis=1)[None, :]
    for d in range(z.shape[1]):
        diff = z[:, d, None] - mu[None, :, d]
        total = total - h[None, :, d] * diff * diff
    return total


def _marginal_values(z, mu, logvar, log_w):
    a, c = _per_dim_terms(z, mu, logvar, log_w)
    bound = jnp.max(log_w, axis=1)[:, None] + jnp.max(c, axis=1)[None, :]  # >= a[d, i, j] for every j
    s = jnp.sum(jnp.exp(a - bound.T[..., None]), axis=-1).T
    # Terms lost to underflow are below `tiny`; relative to a sum of at least tiny/eps they are
    # below rounding. Smaller sums (posteriors far apart, σ ranging over e^±80) take the exact path.
    fine = jnp.all(s >= jnp.finfo(s.dtype).tiny / jnp.finfo(s.dtype).eps)
    per_dim = jax.lax.cond(fine, lambda ops: bound + jnp.log(s), lambda ops: _exact_per_dim(*ops),
                           (z, mu, logvar, log_w))
    joint_terms = _joint_terms(z, mu, logvar, log_w)
    return logsumexp(joint_terms, axis=1), per_dim, joint_terms


@jax.custom_vjp
def _gaussian_marginals(z, mu, logvar, log_w):
    """(log q̂(z_i) [B], log q̂(z_i,d) [B, D]) for weights `log_w` [B, B] (no gradient to `log_w`)."""
    joint, per_dim, _ = _marginal_values(z, mu, logvar, log_w)
    return joint, per_dim


def _gaussian_marginals_fwd(z, mu, logvar, log_w):
    joint, per_dim, joint_terms = _marginal_values(z, mu, logvar, log_w)
    return (joint, per_dim), (z, mu, logvar, log_w, joint, per_dim, joint_terms)


def _gaussian_marginals_bwd(res, cotangents):
    # With a[i, d, j] = log W[i, j] + log N(z_id; μ_jd, σ²_jd) and softmax weights over j, the
    # cotangent reaching a[i, d, j] is G = g_d[i, d]·exp(a − log q̂(z_id)) + g[i]·exp(J[i, j] − log q̂(z_i));
    # then ∂a/∂z_id = −2h(z_id − μ_jd), ∂a/∂μ_jd = +2h(z_id − μ_jd), ∂a/∂log σ²_jd = h(z_id − μ_jd)² − ½,
    # with h = ½ exp(−log σ²_jd).
    z, mu, logvar, log_w, joint, per_dim, joint_terms = res
    g_joint, g_per_dim = cotangents
    s = g_joint[:, None] * jnp.exp(joint_terms - joint[:, None])  # [i, j]
    c, h = -0.5 * (_LOG_2PI + logvar), 0.5 * jnp.exp(-logvar)  # [j, d]
    # G[i, d, j], the cotangent of each pairwise term, stored once; each gradient is then one
    # reduction reading it (the three would otherwise each rebuild it or share an unfused copy).
    d1 = z[:, :, None] - mu.T[None]
    w = g_per_dim[..., None] * jnp.exp((log_w[:, None, :] - per_dim[..., None]) + (c.T[None] - h.T[None] * d1 * d1))
    w = jax.lax.optimization_barrier(w + s[:, None, :])
    hd = h.T[None] * (z[:, :, None] - mu.T[None])
    g_z = -2.0 * jnp.sum(w * hd, axis=-1)
    g_mu = 2.0 * jnp.sum(w * hd, axis=0).T
    g_logvar = jnp.sum(w * (hd * (z[:, :, None] - mu.T[None]) - 0.5), axis=0).T
    return g_z, g_mu, g_logvar, jnp.zeros_like(log_w)


_gaussian_marginals.defvjp(_gaussian_marginals_fwd, _gaussian_marginals_bwd)


def log_qz(z, mu, logvar, dataset_size: int, estimator: str = "mws"):
    """(log q̂(z_i), Σ_d log q̂(z_i,d)), each [B], for z_i ~ q(z | x_i) in a batch from N points.

        log q̂(z_i)   = logsumexp_j (log W[i, j] + Σ_d log q(z_i,d | x_j))
        log q̂(z_i,d) = logsumexp_j (log W[i, j] + log q(z_i,d | x_j))

    with W from `log_importance_weights(B, N, estimator)`; estimator in mws | mss | hfvae | exact.
    """
    joint, per_dim = log_qz_marginals(z, mu, logvar, dataset_size, estimator)
    return joint, per_dim.sum(-1)


def _decomposition_densities(z, mu, logvar, dataset_size: int, estimator: str):
    """(log q̂(z_i) [B], log q̂(z_i,d) [B, D], log q(z_i|x_i) [B], log p(z_i,d) [B, D]): what the
    decomposition's terms are differences of."""
    z, mu, logvar = jnp.asarray(z), jnp.asarray(mu), jnp.asarray(logvar)
    log_q, log_qd = log_qz_marginals(z, mu, logvar, dataset_size, estimator)
    return log_q, log_qd, dist.gaussian_log_prob(z, mu, logvar).sum(-1), dist.gaussian_log_prob(z, 0.0, 0.0)


def decompose(z, mu, logvar, dataset_size: int, estimator: str = "mws"):
    """The KL decomposition of Chen et al. 2018 (Eq. 2) / Esmaeili et al. (2019), Fig. 1, for a
    N(0, I) prior.

        E_x KL(q(z|x) ‖ p(z)) = I_q(x; z) + TC(z) + Σ_d KL(q(z_d) ‖ p(z_d))

    estimated on the batch with one sample z_i ~ q(z | x_i) per point:

        mutual_info       = mean_i [log q(z_i | x_i) − log q̂(z_i)]
        total_correlation = mean_i [log q̂(z_i) − Σ_d log q̂(z_i,d)]
        dimwise_kl        = mean_i Σ_d [log q̂(z_i,d) − log p(z_i,d)]

    The three terms sum exactly (for any estimator) to `kl_sample` = mean_i [log q(z_i|x_i) −
    log p(z_i)], whose expectation over the sample is `kl`, the closed-form mean KL.

    Returns a dict: mutual_info, total_correlation, dimwise_kl, dimwise_kl_per_dim [D], kl, kl_sample.
    """
    log_q, log_qd, log_q_cond, log_pd = _decomposition_densities(z, mu, logvar, dataset_size, estimator)
    dim_kl = jnp.mean(log_qd - log_pd, axis=0)
    return {
        "mutual_info": jnp.mean(log_q_cond - log_q),
        "total_correlation": jnp.mean(log_q - log_qd.sum(-1)),
        "dimwise_kl": dim_kl.sum(),
        "dimwise_kl_per_dim": dim_kl,
        "kl": jnp.mean(dist.gaussian_kl(mu, logvar).sum(-1)),
        "kl_sample": jnp.mean(log_q_cond - log_pd.sum(-1)),
    }


DIAGNOSTIC_KEYS = ("mutual_info", "total_correlation", "dimwise_kl")


def decomposition_estimate(z, mu, logvar, dataset_size: int, estimator: str = "hfvae") -> dict:
    """`decompose`'s three terms with the standard error of each, for logging a readable estimate.

    Each term is a mean over the B samples of a per-sample value (`decompose`'s equations), e.g.
    t_i = log q̂(z_i) − Σ_d log q̂(z_i,d) for the total correlation; its standard error is
    std_i(t_i) / √B (ddof = 1). The t_i share one pool of B posteriors, so they are not quite
    independent and this is the spread of the sample, not a confidence interval on the estimator's
    bias: log q̂ is the log of a mean over the pool, biased low by Jensen's inequality, the joint
    (D dimensions, a peaked mixture) more than each 1-d marginal, so the TC reads low and the
    dimension-wise KL low for small pools (see `disentax.methods.common.decomposition_probe`).

    Returns mutual_info, total_correlation, dimwise_kl and their `<name>_se`.
    """
    log_q, log_qd, log_q_cond, log_pd = _decomposition_densities(z, mu, logvar, dataset_size, estimator)
    n = log_q.shape[0]
    per_point = {
        "mutual_info": log_q_cond - log_q,
        "total_correlation": log_q - log_qd.sum(-1),
        "dimwise_kl": (log_qd - log_pd).sum(-1),
    }
    out = {}
    for name, t in per_point.items():
        out[name] = jnp.mean(t)
        out[f"{name}_se"] = jnp.std(t, ddof=1) / math.sqrt(n) if n > 1 else jnp.full((), jnp.nan, t.dtype)
    return jax.lax.stop_gradient(out)


def decomposition_metrics(outputs, dataset_size: int, estimator: str = "mws") -> dict:
    """MI, TC and dimension-wise KL of a VAE's outputs dict (`z`, `mu`, `logvar`), gradient-free.

    The training loop's default diagnostics for every single-network VAE; methods with their
    own step (FactorVAE, ...) call it on their encoder outputs to log the same numbers.
    """
    terms = decompose(outputs["z"], outputs["mu"], outputs["logvar"], dataset_size, estimator)
    return jax.lax.stop_gradient({k: terms[k] for k in DIAGNOSTIC_KEYS})


def make_decomposition_diagnostics(dataset_size: int, estimator: str = "mws"):
    """`diagnostics(outputs) -> dict` for `make_vae_train_step` (see `decomposition_metrics`)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; allowed: {', '.join(ESTIMATORS)}")

    def diagnostics(outputs):
        return decomposition_metrics(outputs, dataset_size, estimator)

    return diagnostics


# --------------------------------------------------------------------------------------
# Groups of latents and the two-level (HFVAE) decomposition
# --------------------------------------------------------------------------------------


@struct.dataclass
class GaussianGroup:
    """A block of diagonal-Gaussian latents: sample z [B, D], posterior mu, logvar [B, D].

    Its sub-variables (level e of Esmaeili et al. 2019, Fig. 3) are the D dimensions; its prior
    N(0, I).
    """

    z: jax.Array
    mu: jax.Array
    logvar: jax.Array

    @property
    def num_units(self) -> int:
        return self.z.shape[-1]

    def pairwise(self):
        return pairwise_gaussian_log_density(self.z, self.mu, self.logvar)

    def log_posterior(self):
        return dist.gaussian_log_prob(self.z, self.mu, self.logvar)

    def log_prior_units(self):
        return dist.gaussian_log_prob(self.z, 0.0, 0.0)


@struct.dataclass
class ConcreteGroup:
    """One Concrete (relaxed categorical) latent: log-sample log_y [B, K], posterior logits [B, K].

    A single variable (one unit); prior Concrete(prior_logits, τ), uniform logits by default.
    """

    log_y: jax.Array
    logits: jax.Array
    temperature: float | jax.Array = 0.66
    prior_logits: jax.Array | None = None

    @property
    def num_units(self) -> int:
        return 1

    def pairwise(self):
        return pairwise_concrete_log_density(self.log_y, self.logits, self.temperature)[..., None]

    def log_posterior(self):
        return dist.concrete_log_prob_from_log(self.log_y, self.logits, self.temperature)[..., None]

    def log_prior_units(self):
        prior = jnp.zeros_like(self.logits) if self.prior_logits is None else jnp.broadcast_to(self.prior_logits, self.logits.shape)
        return dist.concrete_log_prob_from_log(self.log_y, prior, self.temperature)[..., None]


def hierarchical_decompose(
    groups: Sequence,
    dataset_size: int,
    estimator: str = "hfvae",
    *,
    log_p_groups=None,
    log_p_joint=None,
    log_px_given_z=None,
    log_px=None,
):
    """Two-level decomposition of Esmaeili et al. (2019), Fig. 1 and Fig. 3, for latents
    z = (z_1, …, z_G).

    Each group z_d is a `GaussianGroup` (sub-variables z_{d,e}: its dimensions) or a
    `ConcreteGroup` (a single variable). Terms are the paper's *signed contributions to the
    objective* (each ≤ 0 in expectation except the prior components), estimated on the batch:

        (2)  = −mean[log q(z|x) − log q̂(z)]                                   (= −I(x; z))
        (4)  = −mean[log q̂(z) − log p(z)]                                     (= −KL(q(z) ‖ p(z)))
        (A)  = mean[log p(z) − Σ_d log p(z_d)] − mean[log q̂(z) − Σ_d log q̂(z_d)]   (A_prior + A_tc)
        (B)  = −Σ_d mean[log q̂(z_d) − log p(z_d)]
        (i)  = Σ_d mean[log p(z_d) − Σ_e log p(z_de)] − Σ_d mean[log q̂(z_d) − Σ_e log q̂(z_de)]  (i_prior + i_tc)
        (ii) = −Σ_{d,e} mean[log q̂(z_de) − log p(z_de)]

    Identities that hold exactly on every batch: (A) + (B) = (4), (i) + (ii) = (B),
    (2) + (4) = −kl_sample with kl_sample = mean[log q(z|x) − log p(z)].
    (1) and (3) need log p(x): with `log_px_given_z` [B] this returns "1+3" = mean log p(x|z) + log N;
    with also `log_px` [B] (an estimate of the marginal likelihood) "1" and "3" separately.

    The prior p is, by default, the product over groups and dimensions of the groups' priors;
    pass `log_p_groups` [B, G] (a prior that couples dimensions within a group) and/or
    `log_p_joint` [B] (a prior that couples groups) to change that — then A_prior / i_prior ≠ 0.

    Also returned: mutual_info, total_correlation (between groups), within_group_tc [G],
    dimwise_kl, kl_sample.
    """
    groups = list(groups)
    if not groups:
        raise ValueError("hierarchical_decompose needs at least one group")
    pairs = jnp.concatenate([g.pairwise() for g in groups], axis=-1)  # [B, B, U]
    B = pairs.shape[0]
    log_w = log_importance_weights(B, dataset_size, estimator, pairs.dtype)
    sizes = [g.num_units for g in groups]
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)

    log_q_units = _weighted_lse(log_w, pairs)  # [B, U]
    log_q_groups = jnp.stack(
        [_weighted_lse(log_w, pairs[..., a:b].sum(-1)) for a, b in zip(bounds[:-1], bounds[1:])], axis=-1
    )  # [B, G]
    log_q = _weighted_lse(log_w, pairs.sum(-1))  # [B]
    log_q_cond = jnp.concatenate([g.log_posterior() for g in groups], axis=-1).sum(-1)

    log_p_units = jnp.concatenate([g.log_prior_units() for g in groups], axis=-1)  # [B, U]
    unit_sums = jnp.stack([log_p_units[:, a:b].sum(-1) for a, b in zip(bounds[:-1], bounds[1:])], axis=-1)
    log_pg = unit_sums if log_p_groups is None else jnp.asarray(log_p_groups)
    if log_pg.shape != (B, len(groups)):
        raise ValueError(f"log_p_groups must be [B, G] = {(B, len(groups))}, got {log_pg.shape}")
    log_p = log_pg.sum(-1) if log_p_joint is None else jnp.asarray(log_p_joint)

    q_unit_sums = jnp.stack([log_q_units[:, a:b].sum(-1) for a, b in zip(bounds[:-1], bounds[1:])], axis=-1)
    within_tc = jnp.mean(log_q_groups - q_unit_sums, axis=0)  # [G]
    within_prior = jnp.mean(log_pg - unit_sums, axis=0)  # [G]

    terms = {
        "2": -jnp.mean(log_q_cond - log_q),
        "4": -jnp.mean(log_q - log_p),
        "A_prior": jnp.mean(log_p - log_pg.sum(-1)),
        "A_tc": -jnp.mean(log_q - log_q_groups.sum(-1)),
        "B": -jnp.mean((log_q_groups - log_pg).sum(-1)),
        "i_prior": within_prior.sum(),
        "i_tc": -within_tc.sum(),
        "ii": -jnp.mean((log_q_units - log_p_units).sum(-1)),
    }
    terms["A"] = terms["A_prior"] + terms["A_tc"]
    terms["i"] = terms["i_prior"] + terms["i_tc"]
    terms["mutual_info"] = -terms["2"]
    terms["total_correlation"] = -terms["A_tc"]
    terms["within_group_tc"] = within_tc
    terms["dimwise_kl"] = -terms["ii"]
    terms["kl_sample"] = jnp.mean(log_q_cond - log_p)
    if log_px_given_z is not None:
        terms["1+3"] = jnp.mean(jnp.asarray(log_px_given_z)) + math.log(dataset_size)
        if log_px is not None:
            log_px = jnp.asarray(log_px)
            terms["1"] = jnp.mean(jnp.asarray(log_px_given_z) - log_px)
            terms["3"] = jnp.mean(log_px) + math.log(dataset_size)
    return terms


__all__ = [
    "ESTIMATORS",
    "DIAGNOSTIC_KEYS",
    "ConcreteGroup",
    "GaussianGroup",
    "decompose",
    "decomposition_estimate",
    "decomposition_metrics",
    "hierarchical_decompose",
    "log_importance_weights",
    "log_qz",
    "log_qz_marginals",
    "make_decomposition_diagnostics",
    "pairwise_concrete_log_density",
    "pairwise_gaussian_log_density",
]
