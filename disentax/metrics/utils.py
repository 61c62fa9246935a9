"""Helpers shared by the metrics: applicability checks, sampling codes, discretisation, MI.

Conventions (differing from disentanglement_lib, which stores ``[num_codes, num_points]``):
codes are ``[N, D]`` floats, factors are ``[N, K]`` integers, one row per example.

Two ways to turn a ground-truth dataset into codes, chosen by the dataset's ``on_host``
attribute (see :class:`~disentax.data.GroundTruthDataset`):

* ``on_host`` False (procedural datasets such as :class:`~disentax.data.DSprites`): factors are
  drawn, rendered and encoded inside one jitted function.
* ``on_host`` True (datasets that read stored images with numpy, e.g. the TFDS grids): factors
  are drawn from the key by the same jitted code, the images are read on the host (in a
  background thread that stays ahead of the encoder, :func:`host_stream`) and encoded by
  :func:`encode_batches` in jitted calls of one fixed shape.

Both draw the same factors from the same key, so the two paths give the same codes whenever the
images are the same.

Several models scored on the same images (the members of a sweep): :class:`MemberCodes` holds an
encoder of all of them at once and hands out one representation function per model. Metrics call
those like any other; :func:`sample_codes` recognises them and encodes each drawn batch with every
model in one jitted call, keeping the other models' codes for when their turn comes (same key,
same dataset, same sizes: the same images, since sampling is a pure function of the key).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data.host_pipeline import PrefetchBatches
from disentax.metrics.chunked import apply_in_chunks

__all__ = [
    "MemberCodes",
    "NotApplicable",
    "check_codes_factors",
    "discrete_entropy",
    "discrete_mutual_info",
    "encode_batches",
    "histogram_discretize",
    "host_stream",
    "on_host",
    "require_factors",
    "sample_codes",
    "sample_train_test",
]

ENCODE_BATCH = 256  # rows per jitted encoder call on the host path: one compilation serves all metrics


class NotApplicable(ValueError):
    """A metric cannot be computed on this dataset or model (e.g. it has no ground-truth factors)."""


def require_factors(dataset: Any, metric: str) -> None:
    """Raise :class:`NotApplicable` unless `dataset` exposes a grid of ground-truth factors."""
    sizes = getattr(dataset, "factor_sizes", None)
    if not sizes or not hasattr(dataset, "sample_factors") or not hasattr(dataset, "render"):
        name = getattr(dataset, "name", type(dataset).__name__)
        raise NotApplicable(f"{metric} needs ground-truth factors; dataset {name!r} has none")


def on_host(dataset: Any) -> bool:
    """True when `dataset` reads its images on the host, so ``render`` cannot run inside ``jit``."""
    return bool(getattr(dataset, "on_host", False))


@functools.lru_cache(maxsize=32)
def _jitted(fn: Callable) -> Callable:
    return jax.jit(fn)


def encode_batches(fn: Callable, images: Any, batch_size: int = ENCODE_BATCH) -> Any:
    """``fn(images)`` computed in jitted calls on ``[batch_size, ...]`` slices, rows concatenated.

    The last slice is padded by repeating its final row (and the padding dropped from the
    output), so every call has the same shape and `fn` compiles once. `fn` maps ``[B, ...]`` to
    an array or a tuple/pytree of arrays with leading dimension ``B``; rows must not interact
    (an encoder applied example by example).
    """
    images = jnp.asarray(images)
    if int(images.shape[0]) < 1:
        raise ValueError("encode_batches needs at least one image")
    return apply_in_chunks(_jitted(fn), images, chunk=max(1, int(batch_size)), pad=True)


def host_stream(make: Callable[[int], Any], count: int, prefetch: int = 2) -> Iterator[Any]:
    """``make(0), ..., make(count - 1)`` in order, computed by a background thread up to
    `prefetch` items ahead (:class:`~disentax.data.host_pipeline.PrefetchBatches`), so host
    reads overlap the device work done on the previous item. Results do not depend on timing."""
    count = int(count)
    source = PrefetchBatches(lambda i: make(i) if i < count else None, prefetch=prefetch)
    try:
        for i in range(count):
            yield source(i)
    finally:
        source.close()


def check_codes_factors(codes: Any, factors: Any, what: str = "codes") -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``codes [N, D]`` (float) and ``factors [N, K]`` (int) to numpy."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2:
        raise ValueError(f"{what} must have shape [N, D], got {codes.shape}")
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or factors.shape[0] != codes.shape[0]:
        raise ValueError(f"factors must have shape [N, K] with N = {codes.shape[0]} rows like {what}, got {factors.shape}")
    if factors.dtype.kind not in "iu":
        if not np.all(factors == np.round(factors)):
            raise ValueError(f"factors must be integer class labels, got dtype {factors.dtype} with non-integer values")
        factors = factors.astype(np.int64)
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{what} contain NaN or infinite values")
    return codes, factors.astype(np.int64)


def histogram_discretize(codes: Any, num_bins: int = 20) -> np.ndarray:
    """Equal-width binning of each code column into `num_bins` bins, ints in ``[1, num_bins]``.

    The bin edges of column d span ``[min, max]`` of that column (numpy's histogram edges); a
    value goes to the last edge not above it, so the maximum shares the top bin. This is
    disentanglement_lib's ``histogram_discretizer``. A constant column maps to a single bin.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if int(num_bins) < 1:
        raise ValueError(f"num_bins must be a positive integer, got {num_bins}")
    out = np.empty(codes.shape, dtype=np.int64)
    for d in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, d], bins=int(num_bins))
        out[:, d] = np.digitize(codes[:, d], edges[:-1])
    return out


def _relabel(x: np.ndarray) -> tuple[np.ndarray, int]:
    values, inverse = np.unique(x, return_inverse=True)
    return inverse.reshape(-1), len(values)


def _mutual_info_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in I(a; b) in nats of two discrete label vectors (= sklearn's mutual_info_score)."""
    a, na = _relabel(a)
    b, nb = _relabel(b)
    if na == 1 or nb == 1:
        return 0.0  # exactly: a constant shares no information (avoids rounding residue)
    joint = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb).astype(np.float64)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return max(0.0, float(np.sum(joint[nz] * (np.log(joint[nz]) - np.log((pa * pb)[nz])))))


def discrete_mutual_info(codes_discrete: Any, factors: Any) -> np.ndarray:
    """Matrix ``I[d, k]`` = plug-in mutual information (nats) between code d and factor k."""
    codes_discrete, factors = np.asarray(codes_discrete), np.asarray(factors)
    return np.array(
        [[_mutual_info_1d(codes_discrete[:, d], factors[:, k]) for k in range(factors.shape[1])]
         for d in range(codes_discrete.shape[1])]
    ).reshape(codes_discrete.shape[1], factors.shape[1])


def discrete_entropy(factors: Any) -> np.ndarray:
    """Plug-in entropy (nats) of each factor column, ``H(v_k) = -sum_v p(v) log p(v)``."""
    factors = np.asarray(factors)
    out = []
    for k in range(factors.shape[1]):
        p = np.bincount(_relabel(factors[:, k])[0]).astype(np.float64)
        p /= p.sum()
        out.append(float(-np.sum(p * np.log(p))))
    return np.asarray(out)


class MemberCode:
    """The representation function of member `index` of a :class:`MemberCodes` (images -> [B, D])."""

    def __init__(self, codes: "MemberCodes", index: int, fn: Callable):
        self.codes, self.index, self._fn = codes, int(index), fn

    def __call__(self, images):
        return self._fn(images)


class MemberCodes:
    """The codes of S models that are scored on the same images, encoded together.

    `encode_all(x) -> [S, B, D]` gives every model's code of a batch (e.g. one encoder vmapped
    over stacked parameters); `members[i](x) -> [B, D]` is model i's own, used wherever a metric
    calls the encoder outside :func:`sample_codes` (beta_vae's pairs, factor_vae's votes).
    ``member(i)`` is what a metric is given. A metric's :func:`sample_codes` for member i encodes
    with all S models the first time a (key, dataset, size, batch) is drawn and returns the
    other members their columns from memory after that, so scoring S models with one key samples
    and renders each batch once. Codes are kept until :meth:`clear` (float64, N x S x D per draw).
    """

    def __init__(self, encode_all: Callable, members: list):
        self.encode_all = encode_all
        self._members = [MemberCode(self, i, fn) for i, fn in enumerate(members)]
        self._drawn: dict = {}

    def __len__(self) -> int:
        return len(self._members)

    def member(self, index: int) -> MemberCode:
        return self._members[int(index)]

    def clear(self) -> None:
        self._drawn.clear()

    def sample_codes(self, index, key, dataset, num_points, batch_size, progress, desc):
        k = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        draw = (np.asarray(k).tobytes(), id(dataset), int(num_points), int(batch_size))
        if draw not in self._drawn:
            size = len(self._members)

            def side_by_side(x):  # [B, S * D]: the draw's codes of every member at once
                c = self.encode_all(x)
                return jnp.moveaxis(c, 0, 1).reshape(c.shape[1], -1)

            codes, factors = sample_codes(key, side_by_side, dataset, num_points, batch_size, progress, desc)
            # The dataset is held with the codes so that its id cannot be reused while they are kept.
            self._drawn[draw] = (codes.reshape(codes.shape[0], size, -1), factors, dataset)
        codes, factors, _ = self._drawn[draw]
        return np.ascontiguousarray(codes[:, int(index)]), factors


@functools.lru_cache(maxsize=32)
def _code_sampler(representation_fn: Callable, dataset: Any, batch_size: int):
    def draw(key):
        images, factors = dataset.sample(key, batch_size)
        return representation_fn(images), factors

    return jax.jit(draw)


def sample_codes(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    num_points: int,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "codes",
) -> tuple[np.ndarray, np.ndarray]:
    """``num_points`` examples drawn uniformly from `dataset`, as ``(codes [N, D], factors [N, K])``.

    The counterpart of disentanglement_lib's ``generate_batch_factor_code``. Batch ``i`` is
    ``dataset.sample(fold_in(key, i), batch_size)``, so the points are a pure function of `key`.
    Procedural datasets are rendered and encoded inside one jitted function; host datasets
    (``dataset.on_host``) are read in a background thread and encoded in jitted batches (see
    the module docstring). Either way `representation_fn` (images -> codes) must be traceable by
    JAX. `batch_size` only changes speed and which random points are drawn, not the estimator.
    """
    num_points, batch_size = int(num_points), int(batch_size)
    if num_points < 1:
        raise ValueError(f"num_points must be a positive integer, got {num_points}")
    if isinstance(representation_fn, MemberCode):
        return representation_fn.codes.sample_codes(representation_fn.index, key, dataset, num_points, batch_size,
                                                    progress, desc)
    batch_size = max(1, min(batch_size, num_points))
    num_batches = -(-num_points // batch_size)
    if on_host(dataset):
        reads = host_stream(lambda i: dataset.sample(jax.random.fold_in(key, i), batch_size), num_batches)
        pairs = ((encode_batches(representation_fn, x), f) for x, f in reads)
    else:
        draw = _code_sampler(representation_fn, dataset, batch_size)
        pairs = (draw(jax.random.fold_in(key, i)) for i in range(num_batches))
    codes, factors = [], []
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, total=num_batches, desc=desc, unit="batch", leave=False, dynamic_ncols=True)
    for c, f in pairs:
        codes.append(c)
        factors.append(f)
    codes = np.asarray(jnp.concatenate(codes))[:num_points]
    factors = np.asarray(jnp.concatenate(factors))[:num_points]
    if codes.ndim != 2:
        raise ValueError(f"representation_fn must return codes of shape [B, D], got {codes.shape[1:]} per batch")
    return codes.astype(np.float64), factors.astype(np.int64)


def sample_train_test(
    key: jax.Array,
    representation_fn: Callable,
    dataset: Any,
    metric: str,
    num_train: int = 10_000,
    num_test: int | None = 5_000,
    batch_size: int = 256,
    progress: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None, int]:
    """``(train, test, seed)`` for a metric scored at disentanglement_lib's protocol: the sampling
    half of the ``*_score`` wrappers.

    `train` and `test` are :func:`sample_codes` pairs ``(codes, factors)`` of ``num_train`` and
    ``num_test`` points (test is None when ``num_test`` is None, for metrics that score one sample),
    and `seed` an integer for the metric's own randomness (a model's ``random_state``). They come
    from ``split(key, 3)`` in that order, as in :func:`~disentax.metrics.dci.dci_score`, so metrics
    wrapped this way see the same train points as DCI under the same key. Raises
    :class:`NotApplicable` when `dataset` has no ground-truth factors.
    """
    require_factors(dataset, metric)
    k_train, k_test, k_model = jax.random.split(key, 3)
    train = sample_codes(k_train, representation_fn, dataset, num_train, batch_size, progress, f"{metric} train")
    test = None
    if num_test is not None:
        test = sample_codes(k_test, representation_fn, dataset, num_test, batch_size, progress, f"{metric} test")
    seed = int(jax.random.randint(k_model, (), 0, 2**31 - 1))
    return train, test, seed
