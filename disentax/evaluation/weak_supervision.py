"""Evaluations of the weak-supervision methods.

- `classification_error`: error of q(y|x) on held-out data (Fig. 5 of Siddharth et al. 2017 reports
  it against the labelled-set size l and the supervision rate r;
  `disentax.runner.studies.semi_supervised_sweep` trains one model per (l, r, seed) and tabulates
  it, with the regression error of each continuous partially-supervised latent next to it).
- `regression_errors` / `regression_error`: RMSE of the mean of q(c|x) on the standardised target,
  or, for a periodic factor (dSprites orientation), the cosine distance 1 − cos(θ̂ − θ) of
  Siddharth et al. 2017 (their Fig. 7 measures the lighting direction's regression so).
- `content_style_accuracy`: Bouchacourt et al. (2018), Fig. 7. A classifier of the grouping factor
  is trained once on content codes (accumulated over K training images per class, strategy 2) and
  once on style codes, and tested on codes of held-out images accumulated over k ≤ K images per
  class; reports accuracy and the cross-entropy bound on H(y | code) in bits (Eq. 8) as a function
  of k. The same function scores a plain VAE's full code accumulated by the same product of
  Gaussians.

The classifier is scikit-learn's multinomial logistic regression (Bouchacourt et al. used a small
neural network; any probabilistic classifier gives the Eq. 8 bound).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.groups import chunk_by_label
from disentax.data.labelled import regression_columns, standardised_levels
from disentax.metrics.chunked import apply_in_chunks
from disentax.objectives.grouped import product_of_gaussians

__all__ = [
    "ANGULAR_FACTORS",
    "classification_error",
    "regression_errors",
    "regression_error",
    "labelled_test_set",
    "accumulated_means",
    "ml_vae_encoder",
    "vae_encoder",
    "content_style_accuracy",
]


def classification_error(model, params, images, labels, batch_size: int = 512, method: str = "classify") -> float:
    """Fraction of `images` whose most probable class under q(y|x) differs from `labels`; `method`
    names the model's function images -> logits."""
    fn = getattr(model, method)
    classify = jax.jit(lambda x: model.apply({"params": params}, x, method=fn))
    logits = apply_in_chunks(classify, jnp.asarray(images), chunk=batch_size, host=True)
    return float(np.mean(np.argmax(logits, -1) != np.asarray(labels).reshape(-1)))


# Factors whose levels go once around the circle (evenly spaced, the last next to the first).
ANGULAR_FACTORS = ("orientation",)


def regression_errors(predicted, targets, sizes: Sequence[int], angular: Sequence[bool]) -> np.ndarray:
    """Per regressed latent r: RMSE between `predicted` and `targets` (standardised, [N, R]), or for
    `angular[r]` the mean cosine distance 1 − cos(θ̂ − θ), with θ = 2π·k/K the angle of level k of
    K = sizes[r] recovered from the standardised value (inverse of `standardised_levels`)."""
    predicted = np.asarray(predicted, np.float64).reshape(len(targets), -1)
    targets = np.asarray(targets, np.float64).reshape(predicted.shape)
    out = np.empty(predicted.shape[1])
    for r in range(predicted.shape[1]):
        if angular[r]:
            k = float(sizes[r])
            scale, centre = np.sqrt((k * k - 1) / 12), (k - 1) / 2
            theta = lambda t: 2 * np.pi * (t * scale + centre) / k  # noqa: E731
            out[r] = np.mean(1.0 - np.cos(theta(predicted[:, r]) - theta(targets[:, r])))
        else:
            out[r] = np.sqrt(np.mean((predicted[:, r] - targets[:, r]) ** 2))
    return out


def regression_error(model, params, images, targets, sizes: Sequence[int], angular: Sequence[bool],
                     batch_size: int = 512) -> np.ndarray:
    """`regression_errors` of the mean of q(c|x) of a semi-supervised model with regressed latents."""
    regress = jax.jit(lambda x: model.apply({"params": params}, x, method=model.regress)[0])
    return regression_errors(apply_in_chunks(regress, jnp.asarray(images), chunk=batch_size, host=True), targets, sizes,
                             angular)


def labelled_test_set(dataset, key, n: int, label_factor, regression_factors: Sequence = ()):
    """n images of a factor grid with their labels [n] and standardised regression targets [n, R],
    drawn uniformly (the held-out set of `semi_supervised_sweep` for dSprites)."""
    images, factors = dataset.sample(key, int(n))
    factors = np.asarray(factors)
    labels = factors[:, dataset.factor_index(label_factor)]
    cols = regression_columns(dataset, regression_factors, label_factor)
    targets = standardised_levels(factors[:, list(cols)], [dataset.factor_sizes[c] for c in cols])
    return np.asarray(images), labels, np.asarray(targets, np.float32)


def accumulated_means(encode: Callable, images, labels, k: int, rng: np.random.Generator) -> np.ndarray:
    """Per image, the mean of the product of Gaussians over its group: each label's images cut
    into groups of `k` (strategy 2; k = 1 is strategy 1). `encode(x) -> (mu, logvar)`. Returns [N, D]."""
    mu, logvar = apply_in_chunks(encode, jnp.asarray(images), chunk=512, host=True)
    seg, g = chunk_by_label(labels, k, rng)
    mu_g, _ = product_of_gaussians(jnp.asarray(mu), jnp.asarray(logvar), jnp.asarray(seg), g)
    return np.asarray(mu_g)[seg]


def ml_vae_encoder(model, params):
    """(content encode, style encode) functions x -> (mu, logvar) of a trained ML-VAE."""
    enc = jax.jit(lambda x: model.apply({"params": params}, x, method=model.encode))
    return (lambda x: enc(x)[2:]), (lambda x: enc(x)[:2])


def vae_encoder(model, params):
    """x -> (mu, logvar) of a plain VAE (`disentax.models.VAE`)."""
    return jax.jit(lambda x: model.apply({"params": params}, x, method=model.encode))


def _fit_score(train_f, train_y, test_f, test_y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_f)
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(train_f), train_y)
    proba = clf.predict_proba(scaler.transform(test_f))
    cols = {c: i for i, c in enumerate(clf.classes_)}
    p_true = np.array([proba[n, cols[y]] if y in cols else 0.0 for n, y in enumerate(test_y)])
    acc = float(np.mean(clf.classes_[np.argmax(proba, 1)] == test_y))
    bits = float(-np.mean(np.log(np.clip(p_true, 1e-12, 1.0))) / math.log(2.0))
    return acc, bits


def content_style_accuracy(encoders: dict, train_images, train_labels, test_images, test_labels,
                           ks: Sequence[int] = (1, 2, 3, 5, 10), train_k: int = 10, seed: int = 0,
                           accumulate: dict | None = None) -> list[dict]:
    """Bouchacourt et al. (2018), Fig. 7: accuracy and H(y|code) bound (bits) of a classifier per
    code and per k.

    Args:
      encoders: name -> encode(x) -> (mu, logvar), e.g. {"content": ..., "style": ..., "vae": ...}.
      accumulate: name -> bool, whether that code is accumulated over groups (default: all but
        "style", which is per observation and so constant in k).
      train_k: K, the group size used to build the classifier's training features.
    Returns rows {"code", "k", "accuracy", "cond_entropy_bits"}.
    """
    accumulate = accumulate or {}
    train_labels, test_labels = np.asarray(train_labels).reshape(-1), np.asarray(test_labels).reshape(-1)
    rows = []
    for name, encode in encoders.items():
        acc_on = accumulate.get(name, name != "style")
        rng = np.random.default_rng(seed)
        train_f = accumulated_means(encode, train_images, train_labels, train_k if acc_on else 1, rng)
        for k in ks:
            test_f = accumulated_means(encode, test_images, test_labels, k if acc_on else 1, np.random.default_rng(seed + k))
            acc, bits = _fit_score(train_f, train_labels, test_f, test_labels)
            rows.append({"code": name, "k": int(k), "accuracy": acc, "cond_entropy_bits": bits})
    return rows
