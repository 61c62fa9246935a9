"""Pictures: reconstructions and latent traversals written as PNG grids; video clips as PNG strips and
animated GIFs."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from disentax.objectives import reconstruction_mean

_PAD = 2


def _to_uint8(img) -> np.ndarray:
    a = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return (a * 255).round().astype(np.uint8)


def image_grid(rows: Sequence[Sequence[np.ndarray]], min_size: int = 64, pad: int = _PAD) -> Image.Image:
    """Tile a list of rows of [H, W, C] images in [0, 1] into one RGB picture.

    Small images (e.g. 8x8 digits) are enlarged by pixel repetition to at least `min_size`.
    """
    h, w = np.asarray(rows[0][0]).shape[:2]
    scale = max(1, int(np.ceil(min_size / max(h, w))))
    H, W = h * scale, w * scale
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    canvas = np.full((n_rows * (H + pad) + pad, n_cols * (W + pad) + pad, 3), 128, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            tile = _to_uint8(img).repeat(scale, 0).repeat(scale, 1)
            y, x = pad + i * (H + pad), pad + j * (W + pad)
            canvas[y : y + H, x : x + W] = tile
    return Image.fromarray(canvas)


def _with_labels(grid: Image.Image, labels: Sequence[str], row_height: int, width: int = 110) -> Image.Image:
    out = Image.new("RGB", (grid.width + width, grid.height), (255, 255, 255))
    out.paste(grid, (width, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(labels):
        draw.text((4, _PAD + i * (row_height + _PAD) + row_height // 2 - 6), text, fill=(0, 0, 0))
    return out


def save_reconstructions(path, x, recon) -> Path:
    """Top row: inputs; bottom row: the means of p(x|z) for z ~ q(z|x)."""
    img = image_grid([list(np.asarray(x)), list(np.asarray(recon))])
    img.save(path)
    return Path(path)


def _clips_array(clips) -> np.ndarray:
    """Clips as a numpy [n, T, H, W, C] array; a single clip [T, H, W, C] becomes n = 1."""
    a = np.asarray(clips)
    if a.ndim == 4:
        a = a[None]
    if a.ndim != 5 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"clips must have shape [n, T, H, W, C] (or one clip [T, H, W, C]), got {a.shape}")
    return a


def save_clip_strip(path, clips, labels: Sequence[str] | None = None) -> Path:
    """Clips [n, T, H, W, C] in [0, 1] as one PNG: one row per clip, one column per frame.

    `labels` (one string per clip) are written to the left of the rows.
    """
    a = _clips_array(clips)
    grid = image_grid([list(clip) for clip in a])
    if labels is not None:
        labels = list(labels)
        if len(labels) != a.shape[0]:
            raise ValueError(f"labels must give one string per clip ({a.shape[0]}), got {len(labels)}")
        grid = _with_labels(grid, labels, (grid.height - _PAD) // a.shape[0] - _PAD)
    grid.save(path)
    return Path(path)


def save_clip_gif(path, clips, duration_ms: int = 100) -> Path:
    """Clips [n, T, H, W, C] in [0, 1] as an animated GIF (looping): the clips tiled side by side,
    one GIF frame per time step, each shown `duration_ms` milliseconds.

    The GIF encoder merges identical consecutive frames (adding their durations), so a clip that
    stands still for k steps gives fewer than T stored frames but the same running time.
    """
    a = _clips_array(clips)
    if int(duration_ms) < 1:
        raise ValueError(f"duration_ms must be a positive int, got {duration_ms!r}")
    frames = [image_grid([list(a[:, t])]) for t in range(a.shape[1])]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=int(duration_ms), loop=0)
    return Path(path)


def traversal_images(model, params, x_seed, dims: Sequence[int], values, likelihood: str):
    """Decode z = μ(x_seed) with z_d set to each of `values`, for each d in `dims`.

    Returns [len(dims), len(values), H, W, C]: the traversal grid of Higgins et al. 2017
    (Burgess et al. 2018, Fig. 4: each latent from −3 to 3, others fixed at the mean of `x_seed`).
    """
    mu, _ = model.apply({"params": params}, x_seed[None], method=model.encode)
    dims = jnp.asarray(dims)
    values = jnp.asarray(values, jnp.float32)
    z = jnp.broadcast_to(mu[0], (dims.shape[0], values.shape[0], mu.shape[-1]))
    z = z.at[jnp.arange(dims.shape[0])[:, None], jnp.arange(values.shape[0])[None, :], dims[:, None]].set(
        values[None, :]
    )
    flat = z.reshape(-1, mu.shape[-1])
    out = model.apply({"params": params}, flat, method=model.decode)
    imgs = reconstruction_mean(out, likelihood)
    return imgs.reshape(dims.shape[0], values.shape[0], *imgs.shape[1:])


def save_traversals(path, model, params, x_seed, kl_per_dim, likelihood: str, steps: int = 11, limit: float = 3.0) -> Path:
    """Latent traversals from −limit to limit, one row per latent, rows ordered by mean KL (high to low)."""
    kl = np.asarray(kl_per_dim)
    order = np.argsort(-kl)
    values = np.linspace(-limit, limit, steps)
    imgs = np.asarray(traversal_images(model, params, x_seed, order, values, likelihood))
    grid = image_grid([list(row) for row in imgs])
    row_h = (grid.height - _PAD) // len(order) - _PAD
    labels = [f"z{d}  KL {kl[d]:.2f}" for d in order]
    _with_labels(grid, labels, row_h).save(path)
    return Path(path)


def encode_decode(model, params, x, key, likelihood: str):
    """Reconstruction means for a batch, one z ~ q(z|x) per image."""
    outputs = model.apply({"params": params}, x, key)
    return reconstruction_mean(outputs["out"], likelihood), outputs


__all__ = ["image_grid", "save_clip_gif", "save_clip_strip", "save_reconstructions", "save_traversals",
           "traversal_images", "encode_decode"]

