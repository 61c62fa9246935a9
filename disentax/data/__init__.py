"""Ground-truth factor datasets for disentanglement experiments."""

from disentax.data.base import GroundTruthDataset
from disentax.data.dsprites import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SHAPE,
    NUM_EXAMPLES,
    SHAPES,
    DSprites,
    factor_values,
    render,
)

__all__ = [
    "DSprites",
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "GroundTruthDataset",
    "IMAGE_SHAPE",
    "NUM_EXAMPLES",
    "SHAPES",
    "factor_values",
    "render",
]

from disentax.data.registry import available, get_dataset  # noqa: E402

__all__ += ["available", "get_dataset"]
