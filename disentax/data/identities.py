"""Identity sprites: pairs of distinct images of one identity, the real data of SD-GAN.

SD-GAN (Donahue, Lipton, Balsubramani & McAuley 2018, "Semantically decomposing the latent spaces
of GANs") splits the latent code into an identity part and an observation part; its discriminator
sees *pairs* of images, real pairs being two distinct photographs of one person, and its
generator is judged by face verification (same identity or not). This module is a procedural
stand-in with known factors, rendered on device.

`IdentitySprites`: 64x64x3 coloured dSprites on black. Factors (sizes): shape (3), scale (3),
colour (6), orientation (8), pos_x (8), pos_y (8), 27,648 images. The identity is
(shape, scale, colour), 54 identities (row-major index, colour fastest); the observation is
(orientation, pos_x, pos_y). Sprites are drawn with `disentax.data.dsprites.render` at scales
0.6, 0.8, 1.0, at 8 evenly spaced dSprites grid positions (as `coloured_dsprites`), at every
5th of dSprites' 40 rotations (0, 45, ..., 315 degrees), in one of the six bright colours of
`coloured_dsprites.FG_COLOURS`.

Rotational symmetry: the dSprites square is invariant under 90 degrees and the ellipse under 180
degrees, and the renderer gives pixel-identical images there, so orientations k and k + 2 (square)
or k + 4 (ellipse) of the 8 are the same image. `SYMMETRY_PERIOD` = (2, 4, 8) steps for
(square, ellipse, heart); two images of one identity are the same image exactly when their
positions are equal and their orientations are equal modulo the period.

`sample_pairs`: each pair shares uniformly drawn identity factors; the observation factors are
drawn independently per image (the grouped draw of `groups.sample_groups`, with the identity as
the group's factor). If the second image then equals the first (same position, orientation equal
modulo the period: probability 1/128 for the square, 1/256 ellipse, 1/512 heart), one observation
factor, chosen uniformly among the three, is shifted by a uniform nonzero offset: pos_x / pos_y
by 1..7 modulo 8, the orientation by 1..period-1 steps modulo 8. So the two images of a pair
always differ in pixels, not only in factors.

`sample_identity_batch`: k identities drawn without replacement (from all, or from a fold's
training identities), m images of each with uniform observation factors: the minibatches of the
F-statistic loss (Ridgeway & Mozer 2018: 12 identities x up to 10 images). `identity_folds`
splits the 54 identities into folds for cross-validation by identity.

`sample_verification_pairs`: a class-balanced verification set: half same-identity pairs (from
`sample_pairs`), half different-identity pairs (the second identity uniform among the 53 others,
observation factors uniform), in an order shuffled by the key.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data import dsprites
from disentax.data.base import GroundTruthDataset
from disentax.data.coloured_dsprites import FG_COLOURS, POSITION_INDEX, SCALE_INDEX
from disentax.data.groups import sample_groups, segment_ids_from_sizes

__all__ = [
    "IdentitySprites",
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "IDENTITY_FACTORS",
    "OBSERVATION_FACTORS",
    "ORIENTATION_INDEX",
    "SYMMETRY_PERIOD",
    "render_identity_sprites",
    "identity_folds",
    "sample_identity_batch",
    "sample_pairs",
    "sample_verification_pairs",
]

FACTOR_NAMES = ("shape", "scale", "colour", "orientation", "pos_x", "pos_y")
IDENTITY_FACTORS = FACTOR_NAMES[:3]
OBSERVATION_FACTORS = FACTOR_NAMES[3:]
# Every 5th of dSprites' 40 orientations: 0, 45, ..., 315 degrees.
ORIENTATION_INDEX = np.arange(0, 40, 5, dtype=np.int32)
FACTOR_SIZES = (3, len(SCALE_INDEX), len(FG_COLOURS), len(ORIENTATION_INDEX), len(POSITION_INDEX),
                len(POSITION_INDEX))
IDENTITY_SIZES = FACTOR_SIZES[:3]
OBSERVATION_SIZES = FACTOR_SIZES[3:]
NUM_IDENTITIES = math.prod(IDENTITY_SIZES)
IMAGE_SHAPE = (64, 64, 3)
# Orientation steps (of 45 degrees) after which each shape looks the same: square 90, ellipse 180,
# heart 360 degrees.
SYMMETRY_PERIOD = np.array([2, 4, 8], np.int32)


def _to_dsprites_factors(f):
    """Identity-sprite factors [..., 6] -> dSprites factors [..., 5] (shape, scale, orientation, x, y)."""
    return jnp.stack(
        [
            f[..., 0],
            jnp.asarray(SCALE_INDEX)[f[..., 1]],
            jnp.asarray(ORIENTATION_INDEX)[f[..., 3]],
            jnp.asarray(POSITION_INDEX)[f[..., 4]],
            jnp.asarray(POSITION_INDEX)[f[..., 5]],
        ],
        axis=-1,
    )


@jax.jit
def render_identity_sprites(factors):
    """Images [..., 64, 64, 3]: the dSprites mask times the sprite's colour, on black."""
    f = jnp.asarray(factors).astype(jnp.int32)
    mask = dsprites.render(_to_dsprites_factors(f))  # [..., 64, 64, 1]
    return mask * jnp.asarray(FG_COLOURS)[f[..., 2]][..., None, None, :]


def _identity_index(identity_factors):
    """(shape, scale, colour) [..., 3] -> identity [...] int32, row-major (colour fastest)."""
    f = jnp.asarray(identity_factors).astype(jnp.int32)
    return (f[..., 0] * IDENTITY_SIZES[1] + f[..., 1]) * IDENTITY_SIZES[2] + f[..., 2]


def _identity_factors(identity):
    """Identity [...] -> (shape, scale, colour) [..., 3] int32, inverse of `_identity_index`."""
    i = jnp.asarray(identity).astype(jnp.int32)
    s1, s2 = IDENTITY_SIZES[1], IDENTITY_SIZES[2]
    return jnp.stack([i // (s1 * s2), (i // s2) % s1, i % s2], axis=-1)


class IdentitySprites(GroundTruthDataset):
    """Coloured sprites with an identity (shape, scale, colour) and an observation (orientation,
    position), 64x64x3 on black, generated on device. See the module docstring."""

    def __init__(self) -> None:
        super().__init__(
            name="identity_sprites", factor_names=FACTOR_NAMES, factor_sizes=FACTOR_SIZES, image_shape=IMAGE_SHAPE
        )

    def __repr__(self) -> str:
        return "IdentitySprites()"

    @property
    def identity_factors(self) -> tuple[str, ...]:
        """Names of the factors that make the identity, ("shape", "scale", "colour")."""
        return IDENTITY_FACTORS

    @property
    def observation_factors(self) -> tuple[str, ...]:
        """Names of the factors that vary between images of one identity."""
        return OBSERVATION_FACTORS

    @property
    def num_identities(self) -> int:
        """54 = 3 shapes x 3 scales x 6 colours."""
        return NUM_IDENTITIES

    def identity_of(self, factors: Any) -> jax.Array:
        """Factors [..., 6] -> identity [...] int32, the row-major index over (shape, scale, colour)."""
        self._check_factors(factors)
        return _identity_index(jnp.asarray(factors)[..., :3])

    def identity_to_factors(self, identity: Any) -> jax.Array:
        """Identity [...] -> its (shape, scale, colour) [..., 3] int32."""
        return _identity_factors(identity)

    def render(self, factors: Any) -> jax.Array:
        """Images [..., 64, 64, 3] from factors [..., 6], see `render_identity_sprites`."""
        self._check_factors(factors)
        return render_identity_sprites(factors)


class _IdentityGrid(GroundTruthDataset):
    """`IdentitySprites` with its identity as one factor, ("identity", "orientation", "pos_x",
    "pos_y"), so `groups.sample_groups` can draw groups (here pairs) sharing an identity."""

    def __init__(self) -> None:
        super().__init__(name="identity_sprites_by_identity", factor_names=("identity",) + OBSERVATION_FACTORS,
                         factor_sizes=(NUM_IDENTITIES,) + OBSERVATION_SIZES, image_shape=IMAGE_SHAPE)

    def render(self, factors: Any) -> jax.Array:
        return render_identity_sprites(_expand(factors))


_BY_IDENTITY = _IdentityGrid()


def _expand(grid_factors):
    """(identity, orientation, pos_x, pos_y) [..., 4] -> the six factors [..., 6]."""
    f = jnp.asarray(grid_factors).astype(jnp.int32)
    return jnp.concatenate([_identity_factors(f[..., 0]), f[..., 1:]], axis=-1)


def _check(dataset, num_pairs, even: bool = False) -> int:
    if not isinstance(dataset, IdentitySprites):
        raise ValueError(f"dataset must be an IdentitySprites, got {type(dataset).__name__}")
    if not isinstance(num_pairs, numbers.Integral) or isinstance(num_pairs, bool) or num_pairs < 1:
        raise ValueError(f"num_pairs must be a positive python int (static under jit), got {num_pairs!r}")
    if even and num_pairs % 2:
        raise ValueError(f"num_pairs must be even (half same, half different identities), got {num_pairs}")
    return int(num_pairs)


def _same_image(f1, f2):
    """[n] bool: the images of factors f1, f2 [n, 6] (one identity) are equal: same position and
    orientations equal modulo the shape's symmetry period."""
    period = jnp.asarray(SYMMETRY_PERIOD)[f1[:, 0]]
    return ((f1[:, 3] - f2[:, 3]) % period == 0) & (f1[:, 4] == f2[:, 4]) & (f1[:, 5] == f2[:, 5])


def _make_distinct(key, f1, f2):
    """f2 with, where its image equals f1's, one uniformly chosen observation factor shifted by a
    uniform nonzero offset (positions 1..7 mod 8, orientation 1..period-1 steps mod 8)."""
    n = f1.shape[0]
    u = jax.random.uniform(key, (n, 2))  # one draw for the factor, one for the offset
    col = jnp.minimum((u[:, 0] * 3).astype(jnp.int32), 2)  # 0 orientation, 1 pos_x, 2 pos_y
    period = jnp.asarray(SYMMETRY_PERIOD)[f1[:, 0]]
    sizes = jnp.asarray(OBSERVATION_SIZES, jnp.int32)
    span = jnp.where(col == 0, period, sizes[col])  # values that give distinct images
    offset = 1 + jnp.minimum((u[:, 1] * (span - 1)).astype(jnp.int32), span - 2)  # uniform in 1..span-1
    rows = jnp.arange(n)
    obs = f2[:, 3:]
    shifted = obs.at[rows, col].set((obs[rows, col] + offset) % sizes[col])
    clash = _same_image(f1, f2)
    return f2.at[:, 3:].set(jnp.where(clash[:, None], shifted, obs))


def sample_pairs(dataset: IdentitySprites, key, num_pairs: int) -> dict:
    """`num_pairs` pairs of distinct images of one identity each (the real pairs of SD-GAN).

    Returns {"x1", "x2": [n, 64, 64, 3], "factors1", "factors2": [n, 6] int32, "identity": [n]
    int32}: the identity uniform per pair, observation factors independent per image, and x2 never
    the same image as x1 (see the module docstring for the redraw). Pure in `key`; jit with
    `num_pairs` static.
    """
    n = _check(dataset, num_pairs)
    k_groups, k_fix = jax.random.split(key)
    seg = jnp.asarray(segment_ids_from_sizes([2] * n))
    groups = sample_groups(_BY_IDENTITY, k_groups, seg, n, factor="identity")
    factors = _expand(groups["factors"])
    f1, f2 = factors[0::2], _make_distinct(k_fix, factors[0::2], factors[1::2])
    # x2 is rendered again from its (possibly shifted) factors; x1 is the grouped draw's.
    return {"x1": groups["x"][0::2], "x2": render_identity_sprites(f2), "factors1": f1, "factors2": f2,
            "identity": groups["group_values"]}


def sample_verification_pairs(dataset: IdentitySprites, key, num_pairs: int) -> dict:
    """A class-balanced verification set: exactly `num_pairs / 2` same-identity pairs (distinct
    images, from `sample_pairs`) and as many different-identity pairs, shuffled.

    Different pairs: the first identity uniform, the second uniform among the other 53, every
    observation factor uniform. Returns {"x1", "x2": [n, 64, 64, 3], "same": bool [n],
    "identity1", "identity2": int32 [n], "factors1", "factors2": [n, 6]}. `num_pairs` must be even
    and static under jit.
    """
    n = _check(dataset, num_pairs, even=True)
    h = n // 2
    k_same, k_ids, k_obs, k_perm = jax.random.split(key, 4)
    same = sample_pairs(dataset, k_same, h)
    # An ordered pair of distinct identities, uniform over the 54 * 53: the first, then an offset 1..53.
    q = jax.random.randint(k_ids, (h,), 0, NUM_IDENTITIES * (NUM_IDENTITIES - 1), dtype=jnp.int32)
    id1 = q // (NUM_IDENTITIES - 1)
    id2 = (id1 + 1 + q % (NUM_IDENTITIES - 1)) % NUM_IDENTITIES
    diff = dataset.sample_factors(k_obs, n).at[:, :3].set(_identity_factors(jnp.concatenate([id1, id2])))
    d1, d2 = diff[:h], diff[h:]
    images = render_identity_sprites(diff)
    perm = jax.random.permutation(k_perm, n)
    out = {
        "x1": jnp.concatenate([same["x1"], images[:h]]),
        "x2": jnp.concatenate([same["x2"], images[h:]]),
        "same": jnp.arange(n) < h,
        "identity1": jnp.concatenate([same["identity"], id1]),
        "identity2": jnp.concatenate([same["identity"], id2]),
        "factors1": jnp.concatenate([same["factors1"], d1]),
        "factors2": jnp.concatenate([same["factors2"], d2]),
    }
    return {k: v[perm] for k, v in out.items()}


def identity_folds(num_folds: int = 5, seed: int = 0, num_identities: int = NUM_IDENTITIES) -> list[np.ndarray]:
    """The identities split into `num_folds` disjoint folds of near-equal size (sizes differ by at
    most one: 11, 11, 11, 11, 10 for 54 into 5), by a permutation fixed by `seed`, each sorted.

    Cross-validation by identity as Ridgeway & Mozer (2018) evaluate on sprites: fold f's
    identities are held out, the others train. numpy, not jax: the split is part of the config.
    """
    if not isinstance(num_folds, numbers.Integral) or not 2 <= num_folds <= num_identities:
        raise ValueError(f"num_folds must be an int in [2, {num_identities}], got {num_folds!r}")
    perm = np.random.default_rng(seed).permutation(num_identities)
    return [np.sort(part).astype(np.int32) for part in np.array_split(perm, num_folds)]


def sample_identity_batch(dataset: IdentitySprites, key, num_identities: int, per_identity: int,
                          identities=None) -> dict:
    """`num_identities` distinct identities, `per_identity` images of each: [k * m] rows, identity-major.

    Identities are drawn uniformly without replacement from `identities` (an int array of allowed
    identity indices, e.g. a fold's training identities; default all 54); each image's observation
    factors (orientation, position) are uniform and independent, so two images of an identity can
    coincide (probability <= 1/128 per pair). Returns {"x": [k m, 64, 64, 3], "labels": [k m] int32
    in 0..k-1 (the batch's own class ids, what the embedding losses take), "identity": [k m] int32
    (the dataset's identity index), "factors": [k m, 6] int32}. Pure in `key`; jit with the counts
    static.
    """
    if not isinstance(dataset, IdentitySprites):
        raise ValueError(f"dataset must be an IdentitySprites, got {type(dataset).__name__}")
    for name, v in (("num_identities", num_identities), ("per_identity", per_identity)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive python int (static under jit), got {v!r}")
    pool = jnp.arange(NUM_IDENTITIES, dtype=jnp.int32) if identities is None else jnp.asarray(identities, jnp.int32)
    if pool.ndim != 1 or pool.shape[0] < num_identities:
        raise ValueError(f"need at least {num_identities} identities to draw from, got {pool.shape[0]}")
    k, m = int(num_identities), int(per_identity)
    k_ids, k_obs = jax.random.split(key)
    chosen = jax.random.choice(k_ids, pool, (k,), replace=False)
    identity = jnp.repeat(chosen, m)
    factors = dataset.sample_factors(k_obs, k * m).at[:, :3].set(_identity_factors(identity))
    return {"x": render_identity_sprites(factors), "labels": jnp.repeat(jnp.arange(k, dtype=jnp.int32), m),
            "identity": identity, "factors": factors}
