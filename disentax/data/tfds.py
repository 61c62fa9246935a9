"""Real image datasets read through tensorflow-datasets, without TensorFlow.

Reading goes through ``builder.as_data_source(split)``: random access into the
ArrayRecord files TFDS writes, decoded with numpy/PIL. TensorFlow is only needed
once, to *prepare* a dataset (``tfds build NAME --file_format=array_record``);
reading, shuffling and batching here never import it and never touch the
network (``download`` is never requested).

Two kinds of dataset come out of this module:

* :class:`TFDSImages` -- any supported split as float32 images in ``[0, 1]``
  (NHWC) with labels where the dataset has them. ``sample(key, n)`` draws a
  batch that is a pure function of ``key`` (so a training run's batch at step
  ``s`` depends only on ``(seed, s)``), ``batches(seed, batch_size)`` walks
  epochs in a seeded shuffled order; both give each host (``jax.process_index()``
  of ``jax.process_count()``) its own disjoint share of every global batch.
* :class:`TFDSGroundTruth` subclasses for datasets built from a full factor grid
  (dSprites, 3D Shapes, smallNORB): the :class:`~disentax.data.GroundTruthDataset`
  interface (factor names/sizes, index <-> factors, ``sample``,
  ``sample_with_fixed``) with images looked up from the stored records, so the
  metrics run on them unchanged.

All of them set ``on_host = True``: images are decoded on the host, so they are
called outside ``jit`` (the training loop prefetches them in a thread, see
:mod:`disentax.data.host_pipeline`).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from disentax.data import dsprites as _dsprites
from disentax.data.base import GroundTruthDataset
from disentax.errors import MissingExtraError

__all__ = [
    "CELEB_A_ATTRIBUTES",
    "CELEB_A_CROP",
    "DatasetNotPreparedError",
    "SPECS",
    "TFDSDSprites",
    "TFDSGroundTruth",
    "TFDSImages",
    "TFDSShapes3D",
    "TFDSSmallNORB",
    "default_data_dir",
    "open_source",
]

# Side of the centred square cut from the 178x218 aligned CelebA faces before
# resizing to 64x64: the crop most 64x64 CelebA VAE experiments use, it keeps
# the face and drops most of the background.
CELEB_A_CROP = 148

CELEB_A_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one TFDS dataset becomes arrays.

    ``labels`` is ``"label"`` (one class id), ``"attributes"`` (CelebA's 40
    binary attributes) or ``"factors"`` (the ground-truth grid given by
    ``factor_keys``/``factor_names``/``factor_sizes``, in grid order).
    """

    tfds_name: str
    splits: tuple[str, ...]
    native_shape: tuple[int, int, int]
    labels: str
    num_classes: int | None = None
    factor_keys: tuple[str, ...] = ()
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    image_size: int | None = None  # default output side (square); None keeps native
    crop: int | None = None  # centred square crop before resizing
    manual_hint: str = ""
    # Stored pixels are 0/1, not 0..255: TFDS keeps the released dSprites array (values 0 and 1)
    # as it is, so dividing by 255 would give sprites of intensity 1/255.
    binary: bool = False


SPECS: dict[str, Spec] = {
    # Grid order and sizes of the original dSprites array (Matthey et al. 2017), identical
    # to the procedural DSprites so flat indices mean the same factor combination.
    "dsprites": Spec(
        "dsprites", ("train",), (64, 64, 1), "factors",
        factor_keys=("label_shape", "label_scale", "label_orientation", "label_x_position",
                     "label_y_position"),
        factor_names=_dsprites.FACTOR_NAMES, factor_sizes=_dsprites.FACTOR_SIZES, binary=True,
    ),
    # 3D Shapes (Burgess & Kim 2018): the order of the released HDF5 ``labels`` columns.
    "shapes3d": Spec(
        "shapes3d", ("train",), (64, 64, 3), "factors",
        factor_keys=("label_floor_hue", "label_wall_hue", "label_object_hue", "label_scale",
                     "label_shape", "label_orientation"),
        factor_names=("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"),
        factor_sizes=(10, 10, 10, 8, 4, 15),
    ),
    # smallNORB (LeCun et al. 2004): 5 categories x 10 instances (5 per split) x 9 elevations
    # x 18 azimuths x 6 lightings; the full grid needs both splits. Left camera, 96 -> 64 px
    # as in disentanglement_lib.
    "smallnorb": Spec(
        "smallnorb", ("train", "test"), (96, 96, 1), "factors",
        factor_keys=("label_category", "instance", "label_elevation", "label_azimuth",
                     "label_lighting"),
        factor_names=("category", "instance", "elevation", "azimuth", "lighting"),
        factor_sizes=(5, 10, 9, 18, 6), image_size=64,
    ),
    "mnist": Spec("mnist", ("train", "test"), (28, 28, 1), "label", num_classes=10),
    "fashion_mnist": Spec("fashion_mnist", ("train", "test"), (28, 28, 1), "label", num_classes=10),
    "svhn_cropped": Spec("svhn_cropped", ("train", "test", "extra"), (32, 32, 3), "label",
                         num_classes=10),
    "cifar10": Spec("cifar10", ("train", "test"), (32, 32, 3), "label", num_classes=10),
    "celeb_a": Spec(
        "celeb_a", ("train", "validation", "test"), (218, 178, 3), "attributes",
        num_classes=len(CELEB_A_ATTRIBUTES), image_size=64, crop=CELEB_A_CROP,
        manual_hint="if the Google Drive download is refused, put the CelebA files in "
                    "{root}/downloads/manual and build again",
    ),
}  # fmt: skip


class DatasetNotPreparedError(FileNotFoundError):
    """The dataset's ArrayRecord files are not in the data dir; the message says how to make them."""


def default_data_dir() -> str | None:
    """``$TFDS_DATA_DIR`` if set, else None (TFDS's own default, ``~/tensorflow_datasets``)."""
    return os.environ.get("TFDS_DATA_DIR") or None


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise MissingExtraError("real datasets need tensorflow-datasets: pip install 'disentax[tfds]'") from None
    return tfds


def _spec(name: str) -> Spec:
    if name not in SPECS:
        raise ValueError(f"unknown TFDS dataset {name!r}; allowed: {', '.join(SPECS)}")
    return SPECS[name]


def _check_split(name: str, split: str) -> None:
    spec = _spec(name)
    if split not in spec.splits:
        raise ValueError(f"split {split!r} of {name} is unknown; allowed: {', '.join(spec.splits)}")


def open_source(name: str, split: str, data_dir: str | None = None, decoders: Any = None):
    """The TFDS random-access data source of ``name``/``split`` (no download, no TensorFlow).

    Raises :class:`DatasetNotPreparedError` (one line: dataset, folder, and the
    ``tfds build`` command) when the ArrayRecord files are missing, before
    anything is written anywhere.
    """
    tfds = _tfds()
    _check_split(name, split)
    spec = _spec(name)
    data_dir = data_dir if data_dir is not None else default_data_dir()
    builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
    try:
        return builder.as_data_source(split, decoders=decoders)
    except Exception as error:  # TFDS raises NotImplementedError/AssertionError/ValueError here
        root = str(Path(builder.data_dir).parents[1])  # <root>/<name>/<version>
        if not builder.is_prepared():
            hint = f"; {spec.manual_hint.format(root=root)}" if spec.manual_hint else ""
            raise DatasetNotPreparedError(
                f"dataset {name!r} is not prepared in {root}; prepare it once (needs network and "
                f"tensorflow-cpu): tfds build {spec.tfds_name} --file_format=array_record "
                f"--data_dir={root}{hint}"
            ) from None
        raise DatasetNotPreparedError(
            f"dataset {name!r} in {builder.data_dir} cannot be read by random access "
            f"({type(error).__name__}); rebuild it with: tfds build {spec.tfds_name} "
            f"--file_format=array_record --data_dir={root}"
        ) from error


# ---------------------------------------------------------------------------- decoding


def _read(source, indices: np.ndarray) -> list[dict]:
    """Decoded records at ``indices``: one batched ``__getitems__`` read where it works."""
    keys = [int(i) for i in indices]
    getitems = getattr(source, "__getitems__", None)
    if getitems is not None and not getattr(source, "_disentax_itemwise", False):
        try:
            return list(getitems(keys))
        except TypeError:
            # tfds.testing.mock_data (4.9.10) installs __getitems__ unbound, so it fails
            # with a TypeError before reading anything; __getitem__ works there.
            try:
                source._disentax_itemwise = True
            except AttributeError:
                pass
    return [source[k] for k in keys]


def _to_unit_images(raw: Sequence[Any], spec: Spec, size: int | None) -> np.ndarray:
    """uint8 images -> float32 ``[n, H, W, C]`` in [0, 1], centre-cropped and resized per spec."""
    h, w, c = spec.native_shape
    if spec.binary:  # lit pixels to 255 (any nonzero value: 1 in the release, 255 in re-encodings)
        raw = [np.where(np.asarray(x) > 0, 255, 0).astype(np.uint8) for x in raw]
    if size is None and spec.crop is None:
        arr = np.stack([np.asarray(x) for x in raw]).reshape(len(raw), h, w, c)
        return arr.astype(np.float32) / np.float32(255.0)
    from PIL import Image

    out_side = size if size is not None else spec.crop
    out = np.empty((len(raw), out_side, out_side, c), np.float32)
    for i, x in enumerate(raw):
        a = np.asarray(x, dtype=np.uint8).reshape(h, w, c)
        if spec.crop is not None:
            top, left = (h - spec.crop) // 2, (w - spec.crop) // 2
            a = a[top : top + spec.crop, left : left + spec.crop]
        img = Image.fromarray(a[..., 0] if c == 1 else a)
        if img.size != (out_side, out_side):
            # PIL's bilinear filter widens its support when shrinking, i.e. it antialiases.
            img = img.resize((out_side, out_side), Image.BILINEAR)
        out[i] = np.asarray(img, np.float32).reshape(out_side, out_side, c) / np.float32(255.0)
    return out


def _labels(examples: Sequence[dict], spec: Spec) -> np.ndarray:
    if spec.labels == "label":
        return np.asarray([int(ex["label"]) for ex in examples], np.int32)
    if spec.labels == "attributes":
        return np.asarray(
            [[bool(ex["attributes"][a]) for a in CELEB_A_ATTRIBUTES] for ex in examples], np.int32
        ).reshape(len(examples), len(CELEB_A_ATTRIBUTES))
    out = np.empty((len(examples), len(spec.factor_keys)), np.int32)
    for j, k in enumerate(spec.factor_keys):  # column by column: the label scan's hot loop
        out[:, j] = np.fromiter((ex[k] for ex in examples), np.int64, len(examples))
    return out


def _output_shape(spec: Spec, image_size: int | None) -> tuple[int, int, int]:
    size = image_size if image_size is not None else spec.image_size
    if size is None and spec.crop is None:
        return spec.native_shape
    side = size if size is not None else spec.crop
    return (side, side, spec.native_shape[2])


def _host(process_index: int | None, process_count: int | None) -> tuple[int, int]:
    count = jax.process_count() if process_count is None else int(process_count)
    index = jax.process_index() if process_index is None else int(process_index)
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"process_index must be in [0, {count}), got {index}")
    return index, count


def _as_key(seed_or_key: Any) -> jax.Array:
    if isinstance(seed_or_key, (int, np.integer)):
        return jax.random.PRNGKey(int(seed_or_key))
    return seed_or_key


# ------------------------------------------------------------------------ image datasets


class TFDSImages:
    """One split of a TFDS image dataset as float32 ``[0, 1]`` NHWC arrays on the host.

    ``TFDSImages("mnist", "test")``; CelebA comes centre-cropped
    (:data:`CELEB_A_CROP`) and resized to 64x64, smallNORB resized to 64x64, the
    rest at their native size unless ``image_size`` asks for a square resize.
    Labels: class ids ``int32 [n]`` (mnist, fashion_mnist, svhn_cropped,
    cifar10), attributes ``int32 [n, 40]`` (celeb_a, :data:`CELEB_A_ATTRIBUTES`
    order) or factors ``int32 [n, K]`` (dsprites, shapes3d, smallnorb).

    Per-host sharding: every method below first forms the *global* batch (the
    same for any number of hosts) and returns only rows
    ``[p * n / P, (p + 1) * n / P)`` for host ``p`` of ``P``, so hosts get
    disjoint shares that together cover the global batch.
    """

    on_host = True

    def __init__(
        self,
        name: str,
        split: str = "train",
        *,
        data_dir: str | None = None,
        image_size: int | None = None,
        process_index: int | None = None,
        process_count: int | None = None,
    ) -> None:
        self.spec = _spec(name)
        self.name, self.split = name, split
        self.data_dir = data_dir if data_dir is not None else default_data_dir()
        self.image_size = image_size
        self.image_shape = _output_shape(self.spec, image_size)
        self.process_index, self.process_count = _host(process_index, process_count)
        self.source = open_source(name, split, self.data_dir)
        self.num_examples = len(self.source)
        if self.num_examples < 1:
            raise ValueError(f"split {split!r} of {name} is empty")

    def __repr__(self) -> str:
        return f"TFDSImages({self.name!r}, {self.split!r}, n={self.num_examples})"

    @property
    def num_classes(self) -> int | None:
        """Classes of ``label`` (10) or number of CelebA attributes (40); None for factor labels."""
        return self.spec.num_classes

    def read(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(images [n, H, W, C] float32 in [0, 1], labels)`` of the records at ``indices``, in order."""
        idx = np.asarray(indices).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_examples):
            raise ValueError(f"index out of range [0, {self.num_examples}) for {self.name}/{self.split}")
        examples = _read(self.source, idx)
        size = self.image_size if self.image_size is not None else self.spec.image_size
        images = _to_unit_images([ex["image"] for ex in examples], self.spec, size)
        return images, _labels(examples, self.spec)

    def _local(self, n: int) -> slice:
        if n % self.process_count:
            raise ValueError(
                f"batch size {n} must be divisible by the number of hosts {self.process_count}"
            )
        per = n // self.process_count
        return slice(self.process_index * per, (self.process_index + 1) * per)

    def sample_indices(self, key: jax.Array, n: int) -> np.ndarray:
        """This host's share of ``n`` record indices drawn uniformly, with replacement, from ``key``."""
        idx = np.asarray(jax.random.randint(key, (int(n),), 0, self.num_examples, dtype=jnp.int32))
        return idx[self._local(int(n))]

    def sample(self, key: jax.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of :meth:`sample_indices`: a pure function of ``key`` (and host)."""
        return self.read(self.sample_indices(key, n))

    def epoch_order(self, seed: Any, epoch: int) -> np.ndarray:
        """The shuffled order of all records in ``epoch``: ``permutation(fold_in(key(seed), epoch))``."""
        key = jax.random.fold_in(_as_key(seed), int(epoch))
        return np.asarray(jax.random.permutation(key, self.num_examples))

    def batch_indices(self, seed: Any, step: int, batch_size: int) -> np.ndarray:
        """This host's indices of global batch ``step`` in the seeded epoch order.

        Global batch ``s`` holds positions ``[s * B, (s + 1) * B)`` of the
        concatenated epoch permutations (a batch straddling two epochs takes the
        end of one and the start of the next), so every record appears once per
        epoch and the batch depends only on ``(seed, step)``: exact resumption.
        """
        b, n = int(batch_size), self.num_examples
        pos = np.arange(int(step) * b, (int(step) + 1) * b, dtype=np.int64)[self._local(b)]
        epochs = pos // n
        out = np.empty(pos.shape, np.int64)
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = self.epoch_order(seed, int(e))[pos[sel] % n]
        return out

    def batches(
        self, seed: Any, batch_size: int, *, start_step: int = 0, num_steps: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Iterate ``(images, labels)`` for steps ``start_step, start_step + 1, ...``
        (``num_steps`` of them, or forever), see :meth:`batch_indices`."""
        step = int(start_step)
        while num_steps is None or step < start_step + num_steps:
            yield self.read(self.batch_indices(seed, step, batch_size))
            step += 1


# ------------------------------------------------------------------ ground-truth datasets


def _cache_file(source, name: str) -> Path | None:
    """Where to keep the factor-index -> record table next to the prepared data, if anywhere."""
    info = getattr(source, "dataset_info", None)
    data_dir = getattr(info, "data_dir", None)
    if data_dir is None or not Path(str(data_dir)).is_dir():
        return None
    return Path(str(data_dir)) / f"disentax_{name}_factor_index.npy"


class TFDSGroundTruth(GroundTruthDataset):
    """A factor-grid dataset stored in TFDS, with the procedural datasets' interface.

    TFDS stores records in a hashed (shuffled) order, so the first use reads the
    factor labels of every record once (images are not decoded) and builds
    ``record_of[flat_index]``; it checks that the records cover the grid exactly
    once and keeps the table as ``disentax_<name>_factor_index.npy`` in the
    prepared dataset's folder (written atomically; skipped if read-only).
    After that, :meth:`render` is a table lookup plus an image read, so
    ``images_from_indices(i)`` is the stored image whose labels are
    ``index_to_factors(i)`` (last factor fastest, as in the original arrays).
    """

    on_host = True
    _tfds_name: str = ""

    def __init__(self, *, data_dir: str | None = None, image_size: int | None = None) -> None:
        spec = _spec(self._tfds_name)
        super().__init__(
            name=f"{spec.tfds_name}_tfds" if spec.tfds_name == "dsprites" else spec.tfds_name,
            factor_names=spec.factor_names,
            factor_sizes=spec.factor_sizes,
            image_shape=_output_shape(spec, image_size),
        )
        data_dir = data_dir if data_dir is not None else default_data_dir()
        sources = tuple(open_source(spec.tfds_name, s, data_dir) for s in spec.splits)
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_data_dir", data_dir)
        object.__setattr__(self, "_image_size", image_size)
        object.__setattr__(self, "_sources", sources)
        object.__setattr__(self, "_offsets", np.cumsum([0] + [len(s) for s in sources]))
        object.__setattr__(self, "_record_of", None)

    def _identity(self) -> tuple:
        return super()._identity() + (self._data_dir, self._image_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data_dir={self._data_dir!r})"

    # ------------------------------------------------------------- index table

    def _label_sources(self) -> list:
        # Skip image decoding while scanning labels when TFDS allows it.
        try:
            tfds = _tfds()
            skip = {"image": tfds.decode.SkipDecoding()}
            if self._spec.tfds_name == "smallnorb":  # the second camera's image
                skip["image2"] = tfds.decode.SkipDecoding()
            return [open_source(self._spec.tfds_name, s, self._data_dir, decoders=skip)
                    for s in self._spec.splits]
        except Exception:
            return list(self._sources)

    def _build_table(self) -> np.ndarray:
        total = int(self._offsets[-1])
        if total != self.num_examples:
            raise ValueError(
                f"{self.name} has {total} records but its factor grid {self.factor_sizes} "
                f"has {self.num_examples}"
            )
        record_of = np.full(self.num_examples, -1, np.int64)
        chunk = 8192
        for s, source in enumerate(self._label_sources()):
            for start in range(0, len(source), chunk):
                stop = min(start + chunk, len(source))
                factors = _labels(_read(source, np.arange(start, stop)), self._spec)
                flat = self.factors_to_index(factors)
                record_of[flat] = self._offsets[s] + np.arange(start, stop)
        missing = int(np.sum(record_of < 0))
        if missing:
            raise ValueError(
                f"the records of {self.name} do not cover its factor grid: {missing} of "
                f"{self.num_examples} combinations missing (duplicated labels?)"
            )
        return record_of

    def record_of(self) -> np.ndarray:
        """``int64 [num_examples]``: global record position (splits concatenated) of each flat index."""
        if self._record_of is not None:
            return self._record_of
        path = _cache_file(self._sources[0], self.name)
        table = None
        if path is not None and path.exists():
            table = np.load(path)
            if table.shape != (self.num_examples,):
                table = None
        if table is None:
            table = self._build_table()
            if path is not None:
                try:
                    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
                    with os.fdopen(fd, "wb") as f:
                        np.save(f, table)
                    os.replace(tmp, path)
                except OSError:
                    pass
        object.__setattr__(self, "_record_of", table)
        return table

    # ---------------------------------------------------------------- rendering

    def render(self, factors: Any) -> jax.Array:
        """Stored images ``[..., H, W, C]`` (float32 in [0, 1]) of integer factors ``[..., K]``.

        Reads on the host, so ``factors`` must be concrete (call outside ``jit``).
        """
        if isinstance(factors, jax.core.Tracer):
            raise ValueError(f"{self.name} reads images on the host; call render/sample outside jit")
        factors = np.asarray(factors)
        self._check_factors(factors)
        lead = factors.shape[:-1]
        flat = self.factors_to_index(factors.reshape(-1, self.num_factors))
        records = self.record_of()[flat]
        images = np.empty((records.size, *self.image_shape), np.float32)
        size = self._image_size if self._image_size is not None else self._spec.image_size
        for s, source in enumerate(self._sources):
            sel = np.flatnonzero((records >= self._offsets[s]) & (records < self._offsets[s + 1]))
            if sel.size:
                examples = _read(source, records[sel] - self._offsets[s])
                images[sel] = _to_unit_images([ex["image"] for ex in examples], self._spec, size)
        return jnp.asarray(images.reshape(*lead, *self.image_shape))


class TFDSDSprites(TFDSGroundTruth):
    """dSprites from TFDS (``dsprites_tfds``): the released images on the procedural
    :class:`~disentax.data.DSprites` grid (same factor names, sizes and flat index)."""

    _tfds_name = "dsprites"

    def factor_values(self, factors: Any) -> jax.Array:
        """Real-valued factors, as :func:`disentax.data.dsprites.factor_values`."""
        self._check_factors(factors)
        return _dsprites.factor_values(factors)


class TFDSShapes3D(TFDSGroundTruth):
    """3D Shapes (Burgess & Kim 2018): 480,000 RGB 64x64 images, factors floor_hue(10),
    wall_hue(10), object_hue(10), scale(8), shape(4), orientation(15)."""

    _tfds_name = "shapes3d"


class TFDSSmallNORB(TFDSGroundTruth):
    """smallNORB (LeCun et al. 2004), both TFDS splits as one grid of 48,600 images:
    category(5), instance(10), elevation(9), azimuth(18), lighting(6); left camera,
    resized to 64x64. (disentanglement_lib scores only category/elevation/azimuth/lighting,
    drawing the instance at random; here the instance is an explicit fifth factor.)"""

    _tfds_name = "smallnorb"


GROUND_TRUTH: dict[str, Callable[..., TFDSGroundTruth]] = {
    "dsprites_tfds": TFDSDSprites,
    "shapes3d": TFDSShapes3D,
    "smallnorb": TFDSSmallNORB,
}
