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
