"""Evaluations of the auxiliary-task VAE (Anonymous 2019, "Explicit Information Placement on Latent
Variables using Auxiliary Generative Modelling Task"): the swap test of Fig. 3, clustering accuracy
with more clusters than classes (Table 1), and z_l / z_g sample grids (Fig. 2, 5, 6).

On a `GroundTruthDataset` (the embedded coloured dSprites) the swap test scores the known
factors with classifiers fitted on real images, instead of the paper's SVHN digit classifier.
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from disentax.metrics.clustering import clustering_accuracy
from disentax.objectives import reconstruction_mean
from disentax.objectives.auxiliary import shuffle_patches
from disentax.viz import image_grid

LIKELIHOOD = "logistic"


def _jit(fn):
    """Compile a whole evaluation once per call (cheaper than running the networks op by op);
    keyword arguments are static."""

    @functools.wraps(fn)
    def wrapped(model, params, *args, **static):
        return jax.jit(lambda p, *a: fn(model, p, *a, **static))(params, *args)

    return wrapped


def _apply(model, params, *args, method):
    return model.apply({"params": params}, *args, method=method)


@_jit
def decode_mean(model, params, z_g, z_l):
    """Mean images of p(x | z_g, z_l), [B, H, W, C] in [0, 1]."""
    return reconstruction_mean(_apply(model, params, z_g, z_l, method=model.decode), LIKELIHOOD)


@_jit
def encode_means(model, params, x, x_shuffled):
    """(mu_g(x), mu_l(x~)): the posterior means of the global and local codes."""
    mu_g = _apply(model, params, x, method=model.encode_global)[0]
    mu_l = _apply(model, params, x_shuffled, method=model.encode_local)[0]
    return mu_g, mu_l


@_jit
def swap_images(model, params, key, x, *, patch: int) -> dict:
    """Anonymous (2019), Experiment 1.2: from the encodings of x make (i) reconstructions, (ii)
    images with z_l replaced by a N(0, I) sample, (iii) images with z_g replaced by a N(0, I)
    sample. Returns dict(reconstruction, z_l_from_prior, z_g_from_prior), each [B, H, W, C]."""
    k_s, k_g, k_l = jax.random.split(key, 3)
    mu_g, mu_l = encode_means(model, params, x, shuffle_patches(k_s, x, patch))
    return {
        "reconstruction": decode_mean(model, params, mu_g, mu_l),
        "z_l_from_prior": decode_mean(model, params, mu_g, jax.random.normal(k_l, mu_l.shape)),
        "z_g_from_prior": decode_mean(model, params, jax.random.normal(k_g, mu_g.shape), mu_l),
    }


class RidgeReadout:
    """A linear classifier fitted in closed form: ridge regression of one-hot classes on the
    centred pixels, predicting the arg-max score. Solved in the dual (n x n) when there are fewer
    examples than pixels, so fitting costs one small linear solve."""

    def __init__(self, l2: float = 1.0):
        self.l2 = float(l2)

    def fit(self, features, labels):
        x = np.asarray(features, np.float64)
        labels = np.asarray(labels)
        self.classes_ = np.unique(labels)
        y = (labels[:, None] == self.classes_[None, :]).astype(np.float64)
        self.mean_ = x.mean(0)
        self.offset_ = y.mean(0)
        xc, yc = x - self.mean_, y - self.offset_
        n, d = xc.shape
        if n <= d:
            self.coef_ = xc.T @ np.linalg.solve(xc @ xc.T + self.l2 * np.eye(n), yc)
        else:
            self.coef_ = np.linalg.solve(xc.T @ xc + self.l2 * np.eye(d), xc.T @ yc)
        return self

    def predict(self, features):
        scores = (np.asarray(features, np.float64) - self.mean_) @ self.coef_ + self.offset_
        return self.classes_[np.argmax(scores, axis=1)]


def fit_factor_classifiers(key, dataset, n: int = 2000, factors=None, l2: float = 1.0):
    """One linear readout (`RidgeReadout`) per factor on the raw pixels of `n` real images.
    Returns {factor name: fitted classifier with .predict(features [m, H*W*C])}."""
    x, f = dataset.sample(key, n)
    feats = np.asarray(x).reshape(n, -1)
    f = np.asarray(f)
    names = dataset.factor_names if factors is None else tuple(factors)
    return {name: RidgeReadout(l2).fit(feats, f[:, dataset.factor_index(name)]) for name in names}


def swap_test(key, model, params, dataset, patch: int, classifiers=None, n: int = 2000) -> dict:
    """Anonymous (2019), Fig. 3, on known factors: accuracy of each factor classifier on held-out
    real images (`data`), their reconstructions and the two swapped conditions.

    Replacing z_g should ruin the global factors and keep the local ones; replacing z_l the reverse.
    Returns {condition: {factor: accuracy}}.
    """
    k_fit, k_data, k_swap = jax.random.split(key, 3)
    if classifiers is None:
        classifiers = fit_factor_classifiers(k_fit, dataset, n)
    x, f = dataset.sample(k_data, n)
    f = np.asarray(f)
    conditions = {"data": x, **swap_images(model, params, k_swap, x, patch=patch)}
    result = {}
    for cond, imgs in conditions.items():
        feats = np.asarray(imgs).reshape(n, -1)
        result[cond] = {name: float(np.mean(clf.predict(feats) == f[:, dataset.factor_index(name)]))
                        for name, clf in classifiers.items()}
    return result


@_jit
def cluster_assignments(model, params, x):
    """argmax_k q(y = k | x) [B]."""
    return jnp.argmax(_apply(model, params, x, method=model.encode_global)[2], axis=-1)


def evaluate_clustering(key, model, params, dataset, factor, n: int = 2000) -> dict:
    """ACC of the clusters of y against the factor `factor` of a ground-truth dataset, plus how many
    clusters are in use."""
    x, f = dataset.sample(key, n)
    clusters = np.asarray(cluster_assignments(model, params, x))
    labels = np.asarray(f)[:, dataset.factor_index(factor)]
    return {"factor": factor, "accuracy": clustering_accuracy(clusters, labels),
            "clusters_used": int(np.unique(clusters).size), "num_clusters": int(model.num_clusters)}


def latent_grid(model, params, key, n: int = 8, z_l=None, z_g=None):
    """Anonymous (2019), Fig. 2: an n x n grid, rows one z_l each, columns one z_g each (prior
    samples unless given): along a row only z_g changes, down a column only z_l. Returns
    [n, n, H, W, C]."""
    return _latent_grid(model, params, key, z_l, z_g, n=n)


@_jit
def _latent_grid(model, params, key, z_l, z_g, *, n):
    k_g, k_l = jax.random.split(key)
    if z_g is None:
        z_g = jax.random.normal(k_g, (n, model.global_dim))
    if z_l is None:
        z_l = jax.random.normal(k_l, (n, model.local_encoder.latent_dim))
    rows, cols = z_l.shape[0], z_g.shape[0]
    zg = jnp.broadcast_to(z_g[None], (rows, cols, z_g.shape[-1])).reshape(rows * cols, -1)
    zl = jnp.broadcast_to(z_l[:, None], (rows, cols, z_l.shape[-1])).reshape(rows * cols, -1)
    imgs = decode_mean(model, params, zg, zl)
    return imgs.reshape(rows, cols, *imgs.shape[1:])


@_jit
def cluster_grid(model, params, key, *, n: int = 8):
    """Anonymous (2019), Fig. 5-6: row k holds n samples z_g ~ p(z_g | y = k), all with one
    shared z_l."""
    k_l, k_g = jax.random.split(key)
    k = model.num_clusters
    z_l = jax.random.normal(k_l, (1, model.local_encoder.latent_dim))
    mu, logvar = _apply(model, params, jnp.eye(k), method=model.prior_given_y)
    eps = jax.random.normal(k_g, (k, n, mu.shape[-1]))
    z_g = (mu[:, None] + jnp.exp(0.5 * logvar)[:, None] * eps).reshape(k * n, -1)
    imgs = decode_mean(model, params, z_g, jnp.broadcast_to(z_l, (k * n, z_l.shape[-1])))
    return imgs.reshape(k, n, *imgs.shape[1:])


def write_auxiliary_pictures(model, params, key, workdir, batch) -> list[Path]:
    """reconstructions.png (x, its reconstruction, x~, reconstruction of x~ from z_l), latent_grid.png
    (rows vary z_l, columns z_g) and, for the clustering variant, clusters.png, from `batch`
    {"x", "x_shuffled"} (its size is the number of images per row)."""
    workdir = Path(workdir)
    n = int(batch["x"].shape[0])
    k_enc, k_grid, k_clu = jax.random.split(key, 3)
    o = model.apply({"params": params}, batch["x"], batch["x_shuffled"], k_enc)
    rows = [batch["x"], reconstruction_mean(o["out"], LIKELIHOOD), batch["x_shuffled"],
            reconstruction_mean(o["out_aux"], LIKELIHOOD)]
    image_grid([list(np.asarray(r)) for r in rows]).save(workdir / "reconstructions.png")
    paths = [workdir / "reconstructions.png"]
    image_grid([list(r) for r in np.asarray(latent_grid(model, params, k_grid, n))]).save(workdir / "latent_grid.png")
    paths.append(workdir / "latent_grid.png")
    if model.num_clusters:
        image_grid([list(r) for r in np.asarray(cluster_grid(model, params, k_clu, n=n))]).save(workdir / "clusters.png")
        paths.append(workdir / "clusters.png")
    return paths


def auxiliary_evaluations(model, params, key, dataset, patch: int, n: int, cluster_factor=None) -> dict:
    """The swap test on a ground-truth dataset and, for the clustering variant with a
    `cluster_factor` of the dataset, the clustering accuracy, each on `n` images per fit."""
    k_swap, k_cl = jax.random.split(key)
    report = {"swap_test": swap_test(k_swap, model, params, dataset, patch, n=n)}
    if model.num_clusters and cluster_factor in dataset.factor_names:
        report["clustering"] = evaluate_clustering(k_cl, model, params, dataset, cluster_factor, n)
    return report


__all__ = [
    "cluster_assignments", "cluster_grid", "clustering_accuracy", "decode_mean", "encode_means",
    "evaluate_clustering", "fit_factor_classifiers", "latent_grid", "swap_images", "swap_test",
    "auxiliary_evaluations", "write_auxiliary_pictures",
]
