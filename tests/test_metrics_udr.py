"""UDR (Duan et al. 2020): known answers and a brute-force reference."""
import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from disentax.metrics.udr import informative_latents, udr, udr_pair


def reference_pair(a, b, kl_a, kl_b, threshold=0.01):
    """The paper's equation written out with scipy's Spearman and explicit loops."""
    ia = [d for d in range(a.shape[1]) if kl_a[d] > threshold]
    ib = [d for d in range(b.shape[1]) if kl_b[d] > threshold]
    if not ia or not ib:
        return 0.0
    R = [[abs(spearmanr(a[:, p], b[:, q])[0]) for q in ib] for p in ia]
    total = 0.0
    for q in range(len(ib)):
        col = [R[p][q] for p in range(len(ia))]
        total += max(col) ** 2 / sum(col)
    for p in range(len(ia)):
        total += max(R[p]) ** 2 / sum(R[p])
    return total / (len(ia) + len(ib))


def latents(n=600, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_identical_and_permuted_monotone_rescaled_models_score_high_and_alike():
    # Not exactly 1: independent latents of N samples still correlate by ~0.8/sqrt(N) (the other
    # entries of R's rows), which the ratios count; the score approaches 1 as N grows.
    kl = np.ones(4)
    small, large = latents(n=600), latents(n=20_000)
    assert 0.9 < udr_pair(small, small, kl, kl) < udr_pair(large, large, kl, kl) < 1.0
    z = small
    other = np.stack([np.exp(z[:, 2]), -3 * z[:, 0] + 1, z[:, 3] ** 3, -z[:, 1]], 1)  # permuted, monotone maps
    assert udr_pair(z, other, kl, kl) == pytest.approx(udr_pair(z, z, kl, kl), abs=1e-12)
    assert udr_pair(large, large, kl, kl) > 0.98


def test_independent_random_codes_score_low_and_rotated_codes_in_between():
    z, kl = latents(seed=1), np.ones(4)
    assert udr_pair(z, latents(seed=2), kl, kl) < 0.1
    th = math.pi / 4
    rot = z.copy()
    rot[:, 0], rot[:, 1] = math.cos(th) * z[:, 0] - math.sin(th) * z[:, 1], math.sin(th) * z[:, 0] + math.cos(th) * z[:, 1]
    s = udr_pair(z, rot, kl, kl)
    assert 0.5 < s < 0.95  # two latents mixed 45°: each similar to two of the other model's


def test_matches_the_brute_force_equation_with_uninformative_latents_dropped():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 5))
    b = np.concatenate([a[:, [1, 0]] + 0.5 * rng.normal(size=(300, 2)), rng.normal(size=(300, 3))], 1)
    kl_a, kl_b = np.array([1.0, 0.5, 0.005, 2.0, 0.3]), np.array([0.2, 1.0, 0.0, 3.0, 0.02])
    assert udr_pair(a, b, kl_a, kl_b) == pytest.approx(reference_pair(a, b, kl_a, kl_b), rel=1e-10)
    # A dead latent (KL below the threshold) changes nothing, whatever it holds.
    a2 = np.concatenate([a, a[:, :1]], 1)
    assert udr_pair(a2, b, np.append(kl_a, 0.0), kl_b) == pytest.approx(udr_pair(a, b, kl_a, kl_b), rel=1e-12)


def test_a_duplicated_latent_lowers_the_score_and_an_empty_model_scores_zero():
    z, kl = latents(seed=4), np.ones(4)
    dup = np.concatenate([z, z[:, :1]], 1)
    assert udr_pair(z, dup, kl, np.ones(5)) < udr_pair(z, z, kl, kl) - 0.05
    assert udr_pair(z, z, kl, np.zeros(4)) == 0.0


def test_model_scores_are_medians_of_the_pairs():
    z = latents(n=3000, seed=5)
    codes = [z, z[:, [3, 2, 1, 0]], latents(n=3000, seed=6)]
    kls = [np.ones(4)] * 3
    out = udr(codes, kls)
    p = np.array(out["pairwise"])
    assert np.isnan(p[0, 0]) and p[0, 1] > 0.9 and p[0, 2] < 0.1 and np.allclose(p, p.T, equal_nan=True)
    assert out["udr"] == pytest.approx([np.median([p[0, 1], p[0, 2]]), np.median([p[1, 0], p[1, 2]]),
                                        np.median([p[2, 0], p[2, 1]])])
    assert out["informative"] == [4, 4, 4]


def test_bad_inputs_are_one_line_errors():
    z = latents()
    with pytest.raises(ValueError, match="at least 2 models"):
        udr([z], [np.ones(4)])
    with pytest.raises(ValueError, match="same N inputs"):
        udr_pair(z, z[:10], np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="must match the codes' widths"):
        udr_pair(z, z, np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        informative_latents([1.0, np.nan])
