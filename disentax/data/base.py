"""Shared interface for datasets generated from a grid of ground-truth factors.

A ground-truth dataset is the Cartesian product of ``K`` discrete factors of
variation with sizes ``(s_0, ..., s_{K-1})``. Every example corresponds to one
factor combination ``(f_0, ..., f_{K-1})`` with ``0 <= f_k < s_k`` and to one
flat index in ``[0, prod(s))``. Disentanglement metrics only ever need this
interface: sample factors, hold one of them fixed, and render images.
"""

from __future__ import annotations

import abc
import functools
import math
import numbers
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["GroundTruthDataset"]


def _is_jax(x: Any) -> bool:
    # Tracers are virtual subclasses of jax.Array, so this also catches values
    # inside jit; those cannot be range-checked without a host sync.
    return isinstance(x, jax.Array)


def _static_count(n: Any) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative python int (static under jit), got {n!r}")
    return int(n)


# Module-level jitted kernels keyed on the (hashable) grid sizes, so eager
# callers such as metric loops pay for one compilation instead of dispatching
# op by op; inside an outer jit they simply inline.
@functools.partial(jax.jit, static_argnums=(1, 2))
def _uniform_factors(key: jax.Array, n: int, sizes: tuple[int, ...]) -> jax.Array:
    maxval = jnp.asarray(sizes, dtype=jnp.int32)
    return jax.random.randint(key, (n, len(sizes)), 0, maxval, dtype=jnp.int32)


# The column is traced rather than static so looping over factors (as the
# metrics do) reuses one compilation.
@functools.partial(jax.jit, static_argnums=(3, 4, 5))
def _uniform_factors_with_fixed(
    key: jax.Array, column: jax.Array, value: jax.Array, n: int, sizes: tuple[int, ...], draw: bool
) -> jax.Array:
    key_rest, key_value = jax.random.split(key)
    factors = _uniform_factors(key_rest, n, sizes)
    if draw:
        maxval = jnp.asarray(sizes, dtype=jnp.int32)[column]
        value = jax.random.randint(key_value, (), 0, maxval, dtype=jnp.int32)
    return factors.at[:, column].set(value)


class GroundTruthDataset(abc.ABC):
    """Base class for datasets indexed by a full grid of discrete factors.

    Instances are immutable, compare equal when they describe the same grid,
    and are hashable, so they can be closed over in (or passed as a static
    argument to) ``jax.jit``::

        ds = SomeDataset()
        images, factors = jax.jit(lambda k: ds.sample(k, 64))(key)

    Subclasses call ``super().__init__`` with their grid description and
    implement :meth:`render`.

    ``on_host`` says where :meth:`render` runs. False (the default): it is a
    traceable JAX function, so sampling, rendering and encoding can be fused
    in one ``jit`` (procedural datasets). True: it reads stored images with
    numpy (e.g. the TFDS grids in :mod:`disentax.data.tfds`) and must be called
    with concrete factors outside ``jit``; the training loop then prefetches
    batches in a thread (:mod:`disentax.data.host_pipeline`) and the metrics
    draw factors in ``jit``, read the images on the host and encode them in
    fixed-shape jitted batches (:mod:`disentax.metrics.utils`). Factor sampling
    (:meth:`sample_factors`, :meth:`sample_factors_with_fixed`) is the same
    jitted code either way, so one key gives the same factors on both paths.
    """

    on_host: bool = False

    def __init__(
        self,
        *,
        name: str,
        factor_names: Sequence[str],
        factor_sizes: Sequence[int],
        image_shape: Sequence[int],
    ) -> None:
        factor_names = tuple(str(n) for n in factor_names)
        factor_sizes = tuple(int(s) for s in factor_sizes)
        image_shape = tuple(int(s) for s in image_shape)
        if len(factor_names) != len(factor_sizes):
            raise ValueError(
                f"got {len(factor_names)} factor names but {len(factor_sizes)} factor sizes"
            )
        if len(set(factor_names)) != len(factor_names):
            raise ValueError(f"factor names must be unique, got {factor_names}")
        if any(s < 1 for s in factor_sizes):
            raise ValueError(f"factor sizes must be positive, got {factor_sizes}")
        object.__setattr__(self, "_name", str(name))
        object.__setattr__(self, "_factor_names", factor_names)
        object.__setattr__(self, "_factor_sizes", factor_sizes)
        object.__setattr__(self, "_image_shape", image_shape)
        # Mixed-radix strides with the last factor varying fastest: the stride
        # of factor k is the product of the sizes of all factors after it.
        strides = tuple(math.prod(factor_sizes[k + 1 :]) for k in range(len(factor_sizes)))
        object.__setattr__(self, "_strides", strides)

    # ------------------------------------------------------------------ identity

    def __setattr__(self, key: str, value: Any) -> None:
        # Mutation would silently invalidate jit caches keyed on the hash.
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {key!r}")

    def _identity(self) -> tuple:
        return (type(self), self._name, self._factor_names, self._factor_sizes, self._image_shape)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroundTruthDataset):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={s}" for n, s in zip(self._factor_names, self._factor_sizes))
        return f"{type(self).__name__}({sizes})"

    # ---------------------------------------------------------------- properties

    @property
    def name(self) -> str:
        """Short identifier of the dataset, e.g. ``"dsprites"``."""
        return self._name

    @property
    def factor_names(self) -> tuple[str, ...]:
        """Names of the ``K`` factors of variation, in grid order."""
        return self._factor_names

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """Number of discrete values of each factor, in grid order."""
        return self._factor_sizes

    @property
    def num_factors(self) -> int:
        """``K``, the number of factors of variation."""
        return len(self._factor_sizes)

    @property
    def num_examples(self) -> int:
        """Size of the full grid, ``prod(factor_sizes)``."""
        return math.prod(self._factor_sizes)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape ``(H, W, C)`` of one rendered image."""
        return self._image_shape

    # ------------------------------------------------------------ factor lookup

    def factor_index(self, factor: int | str) -> int:
        """Column of ``factor`` given as an integer index or a factor name."""
        if isinstance(factor, str):
            if factor not in self._factor_names:
                raise ValueError(
                    f"unknown factor {factor!r} for {self._name}; "
                    f"expected one of {self._factor_names}"
                )
            return self._factor_names.index(factor)
        if isinstance(factor, numbers.Integral) and not isinstance(factor, bool):
            k = int(factor)
            if not 0 <= k < self.num_factors:
                raise ValueError(
                    f"factor index {k} out of range [0, {self.num_factors}) for {self._name}"
                )
            return k
        raise ValueError(
            f"factor must be an int in [0, {self.num_factors}) or one of "
            f"{self._factor_names}, got {factor!r}"
        )

    def _check_factor_value(self, k: int, value: Any) -> None:
        """Range check for concrete (python / numpy) factor values of column k."""
        if _is_jax(value):
            return
        arr = np.asarray(value)
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"value for factor {self._factor_names[k]!r} must be an integer, got {value!r}"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self._factor_sizes[k]):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ValueError(
                f"value {int(bad)} out of range [0, {self._factor_sizes[k]}) "
                f"for factor {self._factor_names[k]!r}"
            )

    def _check_factors(self, factors: Any) -> None:
        """Shape and (for concrete inputs) range checks of a ``[..., K]`` array."""
        shape = np.shape(factors)
        if not shape or shape[-1] != self.num_factors:
            raise ValueError(
                f"factors must have shape [..., {self.num_factors}] "
                f"(one column per factor {self._factor_names}), got shape {shape}"
            )
        if _is_jax(factors):
            return
        arr = np.asarray(factors)
        for k in range(self.num_factors):
            self._check_factor_value(k, arr[..., k])

    # ----------------------------------------------------------- index <-> grid

    def index_to_factors(self, index: Any) -> Any:
        """Flat index ``[...]`` -> factors ``[..., K]`` (last factor fastest).

        Implements ``f_k = (index // stride_k) mod s_k`` with
        ``stride_k = prod(s_{k+1}, ..., s_{K-1})``, i.e. the row-major order of
        the original dSprites array. Numpy / python input returns numpy int64,
        jax input returns a jax array (usable under ``jit``).
        """
        if _is_jax(index):
            if not jnp.issubdtype(index.dtype, jnp.integer):
                raise ValueError(f"index must be an integer array, got dtype {index.dtype}")
            strides = jnp.asarray(self._strides, dtype=index.dtype)
            sizes = jnp.asarray(self._factor_sizes, dtype=index.dtype)
            return (index[..., None] // strides) % sizes
        arr = np.asarray(index)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"index must be an integer, got {index!r}")
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.num_examples):
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise ValueError(
                f"index {int(bad)} out of range [0, {self.num_examples}) for {self._name}"
            )
        strides = np.asarray(self._strides, dtype=np.int64)
        sizes = np.asarray(self._factor_sizes, dtype=np.int64)
        return (arr[..., None] // strides) % sizes

    def factors_to_index(self, factors: Any) -> Any:
        """Factors ``[..., K]`` -> flat index ``[...]``, inverse of :meth:`index_to_factors`.

        ``index = sum_k f_k * stride_k`` with the same strides (last factor
        fastest). Numpy / python input is range-checked and returns numpy
        int64; jax input returns a jax array.
        """
        self._check_factors(factors)
        if _is_jax(factors):
            strides = jnp.asarray(self._strides, dtype=factors.dtype)
            return jnp.sum(factors * strides, axis=-1)
        arr = np.asarray(factors).astype(np.int64)
        return np.sum(arr * np.asarray(self._strides, dtype=np.int64), axis=-1)

    # ----------------------------------------------------------------- sampling

    def sample_factors(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` factor combinations drawn uniformly from the grid, int32 ``[n, K]``.

        Each column is independently uniform on ``{0, ..., s_k - 1}``, which is
        the same as drawing a uniform flat index. ``n`` must be static.
        """
        return _uniform_factors(key, _static_count(n), self._factor_sizes)

    def sample_factors_with_fixed(
        self, key: jax.Array, n: int, factor: int | str, value: Any = None
    ) -> jax.Array:
        """Uniform factors ``[n, K]`` except column ``factor`` set to ``value``.

        ``factor`` is a column index or a factor name. If ``value`` is None it
        is drawn uniformly from ``key`` once, so the whole batch shares it
        (the conditioning used by e.g. the Higgins et al. 2017 beta-VAE metric).
        ``value`` may also be a traced integer scalar.
        """
        k = self.factor_index(factor)
        draw = value is None
        if draw:
            value = 0
        else:
            if np.ndim(value) != 0:
                raise ValueError(
                    f"value for factor {self._factor_names[k]!r} must be a scalar, "
                    f"got shape {np.shape(value)}"
                )
            self._check_factor_value(k, value)
        return _uniform_factors_with_fixed(
            key,
            jnp.asarray(k, dtype=jnp.int32),
            jnp.asarray(value, dtype=jnp.int32),
            _static_count(n),
            self._factor_sizes,
            draw,
        )

    # ---------------------------------------------------------------- rendering

    @abc.abstractmethod
    def render(self, factors: Any) -> jax.Array:
        """Integer factors ``[..., K]`` -> float32 images ``[..., H, W, C]``."""

    def sample(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        """``(images [n, H, W, C], factors [n, K])`` uniformly over the grid."""
        factors = self.sample_factors(key, n)
        return self.render(factors), factors

    def sample_with_fixed(
        self, key: jax.Array, n: int, factor: int | str, value: Any = None
    ) -> tuple[jax.Array, jax.Array]:
        """Like :meth:`sample` but with one factor held fixed, see
        :meth:`sample_factors_with_fixed`."""
        factors = self.sample_factors_with_fixed(key, n, factor, value)
        return self.render(factors), factors

    def images_from_indices(self, indices: Any) -> jax.Array:
        """Images ``[..., H, W, C]`` of the examples at flat ``indices [...]``."""
        return self.render(self.index_to_factors(indices))
