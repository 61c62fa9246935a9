"""Identity verification of image pairs, SD-GAN's evaluation (Donahue et al. (2018), Sec. 4, Table 1).

The paper asks FaceNet whether the two images of a pair show the same person, over 10k
class-balanced pairs, and reports the AUC and accuracy: on real pairs of one celebrity (.913 /
.867) and on generated pairs sharing z_I (SD-DCGAN .823 / .749). Here the judge is a classifier of
the ground-truth identity factors trained on real images (`classifiers.train_classifier`), so the
evaluation is exact where FaceNet is approximate:

- score of a pair: P(same identity) = Π_k Σ_v p₁(v_k = v) p₂(v_k = v), the probability that the
  two images' identity factors agree when each image's factors are drawn from the judge's
  softmaxes (independent heads);
- AUC: of that score against the same/different labels (scikit-learn's `roc_auc_score`);
- accuracy: the judge's hard decision, "same" when every identity factor's argmax agrees.
"""
from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = ["same_identity_probability", "verification_scores"]


def same_identity_probability(probs1: Sequence, probs2: Sequence) -> jnp.ndarray:
    """P(same) = Π_k Σ_v p₁ₖ(v) p₂ₖ(v) for per-factor probabilities [B, n_k] of the two images, [B]."""
    if len(probs1) != len(probs2) or not probs1:
        raise ValueError(f"need the same non-zero number of factor heads, got {len(probs1)} and {len(probs2)}")
    out = 1.0
    for a, b in zip(probs1, probs2):
        out = out * jnp.sum(a * b, axis=-1)
    return out


def verification_scores(judge, x1, x2, same) -> dict:
    """{"auc", "accuracy", "pairs"} of the `judge` (a `TrainedClassifier` of the identity factors) on
    pairs (x1[i], x2[i]) with labels `same` [B] (bool)."""
    same = np.asarray(same, bool)
    if same.all() or not same.any():
        raise ValueError("verification needs both same and different pairs")
    p1, p2 = judge.probabilities(x1), judge.probabilities(x2)
    score = np.asarray(same_identity_probability(p1, p2), np.float64)
    decided = np.all(np.stack([np.argmax(a, -1) == np.argmax(b, -1) for a, b in zip(p1, p2)], -1), -1)
    return {"auc": float(roc_auc_score(same, score)), "accuracy": float(np.mean(decided == same)),
            "pairs": int(same.size)}
