"""Fake TFDS random-access sources for the tests in this folder: records given by a function of
their position, and full factor grids stored in a shuffled record order like TFDS's."""
import numpy as np

from disentax.data import tfds as dtfds


class FakeSource:
    """A random-access source whose records are given by a function of their position.

    `examples(keys)`, if given, makes a whole batch at once (``__getitems__``, which the
    loaders use for batched reads)."""

    def __init__(self, n, example, examples=None):
        self._n, self._example, self._examples = n, example, examples

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        return self._example(int(i))

    def __getitems__(self, keys):
        if self._examples is not None:
            return self._examples([int(i) for i in keys])
        return [self._example(int(i)) for i in keys]


def grid_sources(name, image_of, images_of=None):
    """`as_data_source_fn` for `tfds.testing.mock_data`: the full factor grid of `name` in a
    shuffled record order. `image_of(flat)` is the uint8 image of flat grid index `flat`;
    `images_of(flats)`, if given, the images of an array of them at once (faster reads)."""
    spec = dtfds.SPECS[name]
    sizes = np.asarray(spec.factor_sizes)
    n = int(np.prod(sizes))
    strides = np.asarray([int(np.prod(sizes[k + 1 :])) for k in range(len(sizes))])
    flat_of_split = {}
    if name == "smallnorb":  # instances 4,6,7,8,9 in train, 0,1,2,3,5 in test, as in TFDS
        inst = (np.arange(n) // strides[1]) % sizes[1]
        test = np.isin(inst, [0, 1, 2, 3, 5])
        flat_of_split = {"train": np.flatnonzero(~test), "test": np.flatnonzero(test)}
    else:
        flat_of_split = {"train": np.arange(n)}
    rng = np.random.default_rng(0)
    flat_of_split = {s: rng.permutation(f) for s, f in flat_of_split.items()}

    # Factor labels of every record precomputed (vectorised) so the fake stays cheap per record.
    labels = {
        s: list(zip(*[((f // strides[k]) % sizes[k]).tolist() for k in range(len(sizes))]))
        for s, f in flat_of_split.items()
    }
    flats = {s: f.tolist() for s, f in flat_of_split.items()}

    def as_data_source(self, split, decoders=None, **kw):
        assert self.name == spec.tfds_name
        if decoders is not None:  # the loader's label scan: images left encoded, here left out
            assert set(decoders) >= {"image"}
            return FakeSource(len(flats[split]), lambda i: dict(zip(spec.factor_keys, labels[split][i])))

        def example(i):
            return {**dict(zip(spec.factor_keys, labels[split][i])), "image": image_of(flats[split][i])}

        def examples(keys):
            images = images_of(np.asarray([flats[split][i] for i in keys], np.int64))
            return [{**dict(zip(spec.factor_keys, labels[split][i])), "image": im} for i, im in zip(keys, images)]

        return FakeSource(len(flats[split]), example, examples if images_of is not None else None)

    return as_data_source
