"""Input corruption for denoising autoencoders."""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["salt_and_pepper"]


def salt_and_pepper(key: jax.Array, x: jax.Array, max_fraction: float) -> jax.Array:
    """Salt-and-pepper noise "randomly flipping up to 20 % of the pixels" (Peychev et al. (2018),
    Sec. 3.1.3, with `max_fraction` = 0.2): image i draws f_i ~ U(0, max_fraction) and each of its
    pixels is flipped, x → 1 − x over all channels, with probability f_i.

    `x` [B, H, W, C] in [0, 1]; on binary images a flip turns black to white and back. "Up to"
    is read as a per-image fraction uniform on [0, max_fraction] (the paper gives no distribution).
    Pure and jit-able; `max_fraction` may be traced.
    """
    k_f, k_p = jax.random.split(key)
    fraction = jax.random.uniform(k_f, (x.shape[0],) + (1,) * (x.ndim - 1), x.dtype) * max_fraction
    flip = jax.random.uniform(k_p, x.shape[:-1] + (1,), x.dtype) < fraction
    return jnp.where(flip, 1.0 - x, x)
