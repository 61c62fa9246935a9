"""Datasets by config name: the procedural ones rendered on device, scikit-learn's digits, and
TFDS datasets (the `tfds` extra; `disentax.data.tfds` imports tensorflow-datasets only when one is
opened, and a missing extra is a one-line `MissingExtraError`)."""
from __future__ import annotations

from typing import Callable

from disentax import envs
from disentax.data import tfds, video
from disentax.data.coloured_dsprites import ColouredDSprites
from disentax.data.digits import Digits
from disentax.data.dsprites import DSprites
from disentax.data.gaussian_blobs import GaussianBlobs
from disentax.data.identities import IdentitySprites
from disentax.data.mechanisms import MechanismDigits
from disentax.data.multi_dsprites import MultiDSprites
from disentax.data.restyled_digits import RestyledDigits
from disentax.data.text import MultitaskText, SentimentText
from disentax.data.three_shapes import ThreeShapes
from disentax.errors import MissingExtraError

_FACTORIES: dict[str, Callable] = {}
_KINDS: dict[str, str] = {}


def register(name: str, kind: str = "") -> Callable:
    """Register `factory() -> dataset` under `name`; `kind` is what `disentax list` says about it."""

    def wrap(factory):
        _FACTORIES[name] = factory
        _KINDS[name] = kind
        return factory

    return wrap


def available() -> list[str]:
    return sorted(_FACTORIES)


def describe(name: str) -> str:
    return _KINDS.get(name, "")


def get_dataset(name: str):
    """The dataset called `name` (see `available()`)."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(available())}")
    try:
        return _FACTORIES[name]()
    except MissingExtraError as e:
        raise MissingExtraError(f"dataset {name!r}: {e}") from None


register("dsprites", "procedural dSprites, 737,280 images of a 5-factor grid, rendered on device")(DSprites)
register("multi_dsprites", "procedural scenes of up to 3 coloured sprites, with object counts")(MultiDSprites)
register("coloured_dsprites", "procedural 32x32 coloured dSprites: shape, scale, position and colour factors")(
    ColouredDSprites)
register("identity_sprites", "procedural 64x64 coloured sprites: 54 identities (shape, scale, colour) x "
         "orientation and position, for SD-GAN's same-identity pairs")(IdentitySprites)
register("gaussian_blobs", "procedural 64x64 Gaussian blobs at 32 x 32 positions (Burgess et al. 2018, Fig. 2)")(
    GaussianBlobs)
register("three_shapes", "procedural 64x64 square / ellipse / triangle at 16 x 16 positions, 6 scales, 60 "
         "rotations; duplicates removed, training split of 70:15:15 (Peychev et al. 2018)")(ThreeShapes)
register("digits", "scikit-learn's 1,797 real 8x8 handwritten digits, labelled (offline)")(lambda: Digits("train"))
for _percent in (10, 30):  # the training-set sizes of Peychev et al. (2018), Fig. 2
    register(f"digits_{_percent}pct", f"a stratified {_percent} % of the digits training split (Peychev et al. "
             "2018, Fig. 2)")(lambda p=_percent: Digits("train", keep_fraction=p / 100))
register("restyled_digits", "the digits restyled in colour (tint, inversion, textured background, noise): "
         "JADE's scarce primary domain, offline")(lambda: RestyledDigits("train"))
# Batches are dicts (canonical / transformed halves), not (images, factors): for the icm method.
register("mechanism_digits", "the digits at 28x28, training split halved: canonical and under 10 mechanisms "
         "(translations, inversion, noise), for icm")(lambda: MechanismDigits("train"))
# Video clips [n, T, 64, 64, 3] with content and motion factors (sample(key, n) -> (clips, factors dict)).
register("shape_motion", "procedural 16-frame 64x64 clips: a circle or square of random size and colour moving "
         "left-right or top-bottom along a Bezier curve (Tulyakov et al. 2018)")(video.ShapeMotion)
register("bouncing_digits", "procedural 10-frame 64x64 clips: two digits bouncing, in red and green planes "
         "(moving MNIST as Whitney & Fergus 2018 use it, scikit-learn glyphs, offline)")(
    lambda: video.BouncingDigits("train"))

register("sentiment_text", "procedural review sentences (food / film / phone), exact sentiment, topic, tense and nouns; word level, train / judge / test (Yelp stand-in)")(SentimentText)
register("multitask_text", "procedural English-like sentences with toy de / fr translations and POS tags, character level (Brunner et al. 2018's Europarl stand-in)")(MultitaskText)
register("gridworld", "64x64 grid world of 8x8 cells: a red disc moved down/left/right/up, one orange wall "
         "(Thomas et al. 2018, Sec. 4)")(lambda: envs.get_env("gridworld"))
register("gridworld_redundant", "the grid world with a second 'up' and a 'down+left' action (Thomas et al. 2018, "
         "Sec. 4.1)")(lambda: envs.get_env("gridworld_redundant"))
register("gridworld_switch", "64x64 grid world of 4x4 cells with a green on/off switch, actions up/left/pass/right/"
         "toggle/down (Thomas et al. 2018, App. B.3)")(lambda: envs.get_env("gridworld_switch"))
register("digit_gridworld", "64x64x1 grid world of two scikit-learn digits (odd, even) on 7x7 positions, 4 actions "
         "each (Thomas et al. 2018, App. B.1)")(lambda: envs.get_env("digit_gridworld"))
register("planar", "40x40 planar system: a disc agent among six obstacles, 2-D continuous moves (Banijamali et al. "
         "2018, Sec. 4, set X)")(lambda: envs.get_env("planar"))
register("planar_y", "the planar system with a cross-shaped agent (Banijamali et al. 2018, Sec. 4, set Y)")(
    lambda: envs.get_env("planar_y"))

# Real datasets through tensorflow-datasets (extra: pip install 'disentax[tfds]'), read from
# $TFDS_DATA_DIR (default ~/tensorflow_datasets). Ground-truth grids first, then image sets
# (their train split).
for _name in ("dsprites_tfds", "shapes3d", "smallnorb"):
    register(_name, "TFDS, factor grid")(tfds.GROUND_TRUTH[_name])
for _name in ("mnist", "fashion_mnist", "svhn_cropped", "cifar10", "celeb_a"):
    register(_name, "TFDS, labelled images")(lambda _n=_name: tfds.TFDSImages(_n, "train"))
