"""Procedural multi-object dSprites: up to K coloured sprites per 64x64x3 scene, on device.

Nash et al. (2017), "The Multi-Entity Variational Autoencoder", Appendix A: sprites
are sampled independently, including whether each one exists, up to a fixed maximum number;
overlapping colours are blended by summing RGB values and clipping at one, and scenes are
generated afresh for every batch.

Each of the K slots draws a dSprites shape, scale, orientation and position uniformly from the
dSprites grid (see `disentax.data.dsprites`), a colour, and a presence bit (probability
`p_present`). The mask of a sprite comes from `disentax.data.dsprites.render`, so a sprite is
never cut by the border. Colours are fully saturated-ish hues at full brightness (HSV with
s ~ U(0.5, 1), v = 1): every present sprite is visible against the black background.

The object count of a scene (number of present sprites) is the ground truth for the MVAE's
unsupervised counting experiment (Nash et al. 2017, Sec. 4.3).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from disentax.data import dsprites

__all__ = ["MultiDSprites", "hsv_to_rgb", "render_scene", "render_objects"]

IMAGE_SHAPE = (64, 64, 3)


def hsv_to_rgb(hsv):
    """HSV in [0, 1]^3 -> RGB in [0, 1]^3 (the standard hexcone model), over the last axis."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    # Each channel is v * (1 - s * clip(min(k, 4 - k), 0, 1)) with k = (n + 6h) mod 6, n = 5, 3, 1.
    def channel(n):
        k = jnp.mod(n + 6.0 * h, 6.0)
        return v * (1.0 - s * jnp.clip(jnp.minimum(k, 4.0 - k), 0.0, 1.0))

    return jnp.stack([channel(5.0), channel(3.0), channel(1.0)], axis=-1)


@jax.jit
def render_objects(factors, colours, present):
    """Each sprite alone: factors [..., K, 5] (dSprites grid), colours [..., K, 3], present [..., K]
    -> [..., K, 64, 64, 3]; absent sprites are all zero."""
    masks = dsprites.render(factors)  # [..., K, 64, 64, 1]
    return masks * colours[..., None, None, :] * present[..., None, None, None].astype(jnp.float32)


@jax.jit
def render_scene(factors, colours, present):
    """Blend the sprites of a scene: clip(sum_k present_k * colour_k * mask_k, 0, 1) -> [..., 64, 64, 3]."""
    return jnp.clip(jnp.sum(render_objects(factors, colours, present), axis=-4), 0.0, 1.0)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _sample_scenes(key, n: int, max_objects: int, p_present):
    k_f, k_c, k_p = jax.random.split(key, 3)
    sizes = jnp.asarray(dsprites.FACTOR_SIZES, jnp.int32)
    factors = jax.random.randint(k_f, (n, max_objects, len(dsprites.FACTOR_SIZES)), 0, sizes, jnp.int32)
    u = jax.random.uniform(k_c, (n, max_objects, 2))
    hsv = jnp.stack([u[..., 0], 0.5 + 0.5 * u[..., 1], jnp.ones_like(u[..., 0])], axis=-1)
    colours = hsv_to_rgb(hsv)
    present = jax.random.bernoulli(k_p, p_present, (n, max_objects))
    images = render_scene(factors, colours, present)
    return {
        "images": images,
        "counts": jnp.sum(present, axis=-1).astype(jnp.int32),
        "present": present,
        "factors": factors,
        "colours": colours,
    }


class MultiDSprites:
    """Scenes of up to `max_objects` coloured dSprites, each present with probability `p_present`.

    Not a `GroundTruthDataset` (the number of objects varies); it offers what the training loop
    and the MVAE evaluations need: `image_shape`, `sample(key, n) -> (images, counts)` and
    `sample_scenes(key, n)` with every latent of the generator. Immutable and hashable.
    """

    def __init__(self, max_objects: int = 3, p_present: float = 0.5, name: str = "multi_dsprites"):
        if int(max_objects) < 1:
            raise ValueError(f"max_objects must be >= 1, got {max_objects}")
        if not 0.0 <= float(p_present) <= 1.0:
            raise ValueError(f"p_present must be in [0, 1], got {p_present}")
        object.__setattr__(self, "max_objects", int(max_objects))
        object.__setattr__(self, "p_present", float(p_present))
        object.__setattr__(self, "name", name)

    def __setattr__(self, key, value):
        raise AttributeError(f"MultiDSprites is immutable; cannot set {key!r}")

    def __eq__(self, other):
        return isinstance(other, MultiDSprites) and (self.max_objects, self.p_present) == (other.max_objects, other.p_present)

    def __hash__(self):
        return hash((MultiDSprites, self.max_objects, self.p_present))

    def __repr__(self):
        return f"MultiDSprites(max_objects={self.max_objects}, p_present={self.p_present})"

    @property
    def image_shape(self):
        return IMAGE_SHAPE

    def sample_scenes(self, key, n: int) -> dict:
        """dict(images [n,64,64,3], counts [n], present [n,K] bool, factors [n,K,5], colours [n,K,3])."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative python int, got {n!r}")
        return _sample_scenes(key, n, self.max_objects, self.p_present)

    def sample(self, key, n: int):
        """(images [n, 64, 64, 3], object counts [n] int32)."""
        s = self.sample_scenes(key, n)
        return s["images"], s["counts"]
