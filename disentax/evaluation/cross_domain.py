"""What JADE's Fig. 2 shows (Karimi, Banijamali, Wong & Ghodsi (2018)): how much each latent
dimension varies when the content is fixed, against when everything varies.

`within_class_variance_ratio(codes, labels)` is, per class k and dimension d, the variance of the
posterior means over the images of class k divided by their variance over all images. A content
dimension (one that carries the class) has a ratio well below 1; a style dimension, which varies
just as much within a class as across all images, has a ratio near 1 (the paper's Fig. 2a against
Fig. 2b, there as activations normalised by their variance). `variance_heatmap` draws the [K, D]
grid.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["within_class_variance_ratio", "variance_heatmap"]


def within_class_variance_ratio(codes, labels, num_classes: int | None = None) -> np.ndarray:
    """[K, D]: Var(codes[labels == k, d]) / Var(codes[:, d]) (population variances, float64).

    A dimension that is constant over all images has no variance to explain: its ratio is NaN.
    A class with fewer than two images has NaN rows.
    """
    codes = np.asarray(codes, np.float64)
    labels = np.asarray(labels).reshape(-1)
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    total = codes.var(axis=0)
    total = np.where(total > 0, total, np.nan)
    out = np.full((k, codes.shape[1]), np.nan)
    for c in range(k):
        members = codes[labels == c]
        if members.shape[0] >= 2:
            out[c] = members.var(axis=0) / total
    return out


def variance_heatmap(path, ratios: np.ndarray, dim_names: Sequence[str], title: str) -> Path:
    """The [K, D] ratios as a heat map (rows: classes, columns: dimensions) saved at `path`."""
    # A bare Figure draws without a backend, so a notebook's inline backend and pyplot's figures stay untouched.
    from matplotlib.figure import Figure

    k, d = ratios.shape
    fig = Figure(figsize=(0.38 * d + 2.2, 0.32 * k + 1.6))
    ax = fig.subplots()
    im = ax.imshow(ratios, vmin=0.0, vmax=1.2, cmap="viridis", aspect="auto")
    ax.set_xticks(range(d), list(dim_names), rotation=90, fontsize=7)
    ax.set_yticks(range(k), [f"class {c}" for c in range(k)], fontsize=7)
    ax.set_title(title, fontsize=8)
    fig.colorbar(im, ax=ax, label="within-class / total variance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
