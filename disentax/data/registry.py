"""Datasets by config name."""
from __future__ import annotations

_FACTORIES = {}


def register(name: str):
    def wrap(factory):
        _FACTORIES[name] = factory
        return factory

    return wrap


@register("dsprites")
def _dsprites():
    from disentax.data.dsprites import DSprites

    return DSprites()


# Real datasets through tensorflow-datasets (extra: pip install 'disentax[tfds]'), read from
# $TFDS_DATA_DIR (default ~/tensorflow_datasets). Ground-truth grids first, then image sets
# (their train split).
def _tfds_ground_truth(name):
    def factory():
        from disentax.data.tfds import GROUND_TRUTH

        return GROUND_TRUTH[name]()

    return factory


def _tfds_images(name):
    def factory():
        from disentax.data.tfds import TFDSImages

        return TFDSImages(name, "train")

    return factory


for _name in ("dsprites_tfds", "shapes3d", "smallnorb"):
    register(_name)(_tfds_ground_truth(_name))
for _name in ("mnist", "fashion_mnist", "svhn_cropped", "cifar10", "celeb_a"):
    register(_name)(_tfds_images(_name))
@register("digits")
def _digits():
    from disentax.data.digits import Digits

    return Digits("train")


def available() -> list[str]:
    return sorted(_FACTORIES)


def get_dataset(name: str):
    """The dataset called `name` (see `available()`)."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(available())}")
    return _FACTORIES[name]()


@register("multi_dsprites")
def _multi_dsprites():
    from disentax.data.multi_dsprites import MultiDSprites

    return MultiDSprites()


@register("coloured_dsprites")
def _coloured_dsprites():
    from disentax.data.coloured_dsprites import ColouredDSprites

    return ColouredDSprites()
