"""Unsupervised scores of a representation: how far its codes are from having independent
dimensions, without ground-truth factors (the "unsupervised metrics" of Locatello et al. 2019,
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled Representations",
as computed by disentanglement_lib).

All work on the mean codes ``z [N, D]`` and their sample covariance Σ (1/(N − 1), numpy's
``np.cov``); let Δ = diag(Σ_11, ..., Σ_DD) be the Gaussian with the same marginals but independent
dimensions.

* Gaussian total correlation: the total correlation of N(0, Σ), i.e.

      TC = KL(N(0, Σ) ‖ N(0, Δ)) = ½ (Σ_d log Σ_dd − log det Σ)   (nats, ≥ 0, 0 iff Σ diagonal).

* Gaussian Wasserstein correlation: the *squared* 2-Wasserstein distance between the same two
  Gaussians (Dowson & Landau 1982 / Givens & Shortt 1984 closed form, no square root taken, as
  disentanglement_lib reports it):

      W = tr Σ + tr Δ − 2 tr (Δ^{1/2} Σ Δ^{1/2})^{1/2} = 2 tr Σ − 2 tr (Δ^{1/2} Σ Δ^{1/2})^{1/2},

  and its normalised variant W / tr Σ, which is scale-free (invariant to scaling all codes
  together) and lies in [0, 2). disentanglement_lib takes ``sqrtm(Δ Σ)``; Δ Σ is similar to
  Δ^{1/2} Σ Δ^{1/2} (conjugate by Δ^{1/2}), so the traces of their square roots agree. We use the
  symmetric form: its square root's trace is the sum of the square roots of its eigenvalues.

* Mutual-information score: each code dimension discretised into 20 equal-width bins
  (:func:`~disentax.metrics.utils.histogram_discretize`), the plug-in mutual information matrix
  I[i, j] = I(ẑ_i; ẑ_j) (nats) of the discretised dimensions, and the mean of its off-diagonal
  entries, Σ_{i≠j} I[i, j] / (D² − D). (It is a mean over ordered pairs, not a ratio to the
  diagonal entropies; D = 1 gives 0.)

Lower is more factorised for all of them. The protocol (disentanglement_lib's unsupervised study):
10,000 points drawn uniformly from the dataset.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from disentax.metrics.utils import discrete_mutual_info, histogram_discretize, sample_codes

__all__ = [
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation",
    "latent_mutual_info_score",
    "unsupervised_score",
    "unsupervised_scores",
]


def _covariance(codes: Any, what: str) -> np.ndarray:
    z = np.asarray(codes, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f"{what} needs codes of shape [N, D] with N >= 2 and D >= 1, got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{what}: codes contain NaN or infinite values")
    return np.atleast_2d(np.cov(z, rowvar=False, ddof=1))


def gaussian_total_correlation(codes: Any) -> float:
    """TC = ½ (Σ_d log Σ_dd − log det Σ): the total correlation of a Gaussian with the codes'
    sample covariance Σ (Locatello et al. 2019; disentanglement_lib).

    Exactly constant dimensions (Σ_dd = 0) are independent of everything and are left out; a
    singular covariance otherwise (e.g. one dimension a linear function of others) gives ``inf``.
    """
    cov = _covariance(codes, "gaussian_total_correlation")
    keep = np.diag(cov) > 0
    if not np.any(keep):
        return 0.0
    cov = cov[np.ix_(keep, keep)]
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return float("inf")
    return float(max(0.0, 0.5 * (np.sum(np.log(np.diag(cov))) - logdet)))


def gaussian_wasserstein_correlation(codes: Any, normalised: bool = False) -> float:
    """W = 2 tr Σ − 2 tr (Δ^{1/2} Σ Δ^{1/2})^{1/2}, the squared 2-Wasserstein distance between
    N(0, Σ) and N(0, Δ = diag Σ) (Locatello et al. 2019; disentanglement_lib); divided by tr Σ
    when `normalised` (disentanglement_lib's ``gaussian_wasserstein_correlation_norm``).
    """
    cov = _covariance(codes, "gaussian_wasserstein_correlation")
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    inner = cov * sd[:, None] * sd[None, :]
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    # Eigenvalues of this PSD matrix within rounding of 0 are 0: their square roots (~1e-8 of the
    # top one) would otherwise dominate the error of a low-rank covariance.
    eig = np.where(eig > eig.size * np.finfo(float).eps * max(eig.max(), 0.0), eig, 0.0)
    tr = float(np.trace(cov))
    w = max(0.0, 2.0 * tr - 2.0 * float(np.sum(np.sqrt(eig))))
    if not normalised:
        return w
    if tr <= 0:
        raise ValueError("the normalised Gaussian Wasserstein correlation is undefined for codes with zero total variance")
    return w / tr


def latent_mutual_info_score(codes: Any, num_bins: int = 20) -> float:
    """Σ_{i≠j} I(ẑ_i; ẑ_j) / (D² − D): the mean plug-in mutual information (nats) between pairs of
    `num_bins`-bin discretised code dimensions (Locatello et al. 2019; disentanglement_lib's
    ``mutual_info_score``)."""
    _covariance(codes, "latent_mutual_info_score")  # same input checks as the others
    z = histogram_discretize(codes, num_bins)
    d = z.shape[1]
    if d < 2:
        return 0.0
    mi = discrete_mutual_info(z, z)
    np.fill_diagonal(mi, 0.0)
    return float(mi.sum() / (d * d - d))


def unsupervised_scores(codes: Any, num_bins: int = 20) -> dict:
    """All unsupervised scores of ``codes [N, D]`` (equations in the module docstring):
    ``{"gaussian_total_correlation", "gaussian_wasserstein_correlation",
    "gaussian_wasserstein_correlation_norm", "mutual_info_score"}`` (disentanglement_lib's names)."""
    return {
        "gaussian_total_correlation": gaussian_total_correlation(codes),
        "gaussian_wasserstein_correlation": gaussian_wasserstein_correlation(codes),
        "gaussian_wasserstein_correlation_norm": gaussian_wasserstein_correlation(codes, normalised=True),
        "mutual_info_score": latent_mutual_info_score(codes, num_bins),
    }


def unsupervised_score(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_train: int = 10_000,
    num_bins: int = 20,
    batch_size: int = 256,
    progress: bool = False,
) -> dict:
    """:func:`unsupervised_scores` of ``num_train`` codes sampled uniformly from `dataset`
    (Locatello et al. 2019's protocol: 10,000 points). Needs only ``dataset.sample``, not factors."""
    if not hasattr(dataset, "sample"):
        raise ValueError(f"unsupervised_score needs a dataset with a sample(key, n) method, got {type(dataset).__name__}")
    codes, _ = sample_codes(key, representation_fn, dataset, num_train, batch_size, progress, "unsupervised")
    return unsupervised_scores(codes, num_bins)
