"""The metrics' host path (datasets with ``on_host = True``, whose images are read with numpy) gives
the same numbers as the jitted path on the same grid, without TensorFlow Datasets."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import metrics
from disentax.data.base import GroundTruthDataset
from disentax.metrics.utils import encode_batches, host_stream

SIZES = (3, 4, 5, 6)
KEY = jax.random.PRNGKey(5)


class DeviceGrid(GroundTruthDataset):
    """'Images' of factors f: the vector f as floats, rendered by jax (fuses into the metrics' jit)."""

    def __init__(self):
        super().__init__(name="grid", factor_names=[f"f{i}" for i in range(len(SIZES))], factor_sizes=SIZES,
                         image_shape=(len(SIZES),))

    def render(self, factors):
        return jnp.asarray(factors).astype(jnp.float32)


class HostGrid(DeviceGrid):
    """The same images made with numpy, as a stored dataset would read them: unusable inside jit."""

    on_host = True

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "renders", [])

    def render(self, factors):
        if isinstance(factors, jax.core.Tracer):
            raise AssertionError("a host dataset was rendered inside jit")
        f = np.asarray(factors)
        self.renders.append(f.shape[0])
        return f.astype(np.float32)


def entangled(x):
    """A code that mixes factors non-trivially, with float arithmetic that is exact here."""
    return jnp.stack([x[:, 0] + 0.5 * x[:, 1], x[:, 1] - x[:, 2], 2.0 * x[:, 3], x[:, 2] * 0.25], axis=1)


def encoder(x):
    return entangled(x), jnp.full((x.shape[0], 4), -3.0)


def test_sampling_routines_give_the_same_numbers_on_both_paths():
    # mig runs sample_codes (which dci, sap, modularity and information share), beta_vae and
    # factor_vae their own draws; encode_dataset is mig_exact's pass over the grid.
    device, host = DeviceGrid(), HostGrid()
    assert not device.on_host and host.on_host
    kw = dict(num_train=80, num_eval=40, num_variance_estimate=80)
    want = metrics.evaluate(KEY, entangled, device, "mig,beta_vae,factor_vae", **kw)
    got = metrics.evaluate(KEY, entangled, host, "mig,beta_vae,factor_vae", **kw)
    assert got == want
    assert 0.1 < want["mig"]["mig"] < 0.9 and want["factor_vae"]["num_active_dims"] == 4
    assert 0.5 < want["beta_vae"]["eval_accuracy"] and 0.5 < want["factor_vae"]["eval_accuracy"]
    mu_d, lv_d = metrics.encode_dataset(encoder, device, batch_size=128)
    mu_h, lv_h = metrics.encode_dataset(encoder, host, batch_size=128)
    np.testing.assert_array_equal(np.asarray(mu_h), np.asarray(mu_d))
    np.testing.assert_array_equal(np.asarray(lv_h), np.asarray(lv_d))
    every = np.arange(device.num_examples)  # flat index order, last (padded) batch trimmed
    np.testing.assert_array_equal(np.asarray(mu_h), np.asarray(entangled(jnp.asarray(device.index_to_factors(every), jnp.float32))))
    assert host.renders  # the host path really ran, outside jit


def test_encode_batches_pads_to_one_shape_and_drops_the_padding():
    calls = []

    def fn(x):
        calls.append(x.shape)  # runs at trace time only: one entry per compilation
        return x * 2.0, x.sum(axis=1)

    x = jnp.arange(7 * 3, dtype=jnp.float32).reshape(7, 3)
    doubled, sums = encode_batches(fn, x, batch_size=3)
    np.testing.assert_array_equal(np.asarray(doubled), 2.0 * np.asarray(x))
    np.testing.assert_array_equal(np.asarray(sums), np.asarray(x).sum(1))
    assert calls == [(3, 3)]
    with pytest.raises(ValueError, match="at least one image"):
        encode_batches(fn, x[:0])


def test_host_stream_yields_in_order_and_reraises_errors():
    assert list(host_stream(lambda i: np.asarray(i * i), 6)) == [i * i for i in range(6)]

    def broken(i):
        if i == 2:
            raise KeyError("record 2")
        return np.asarray(i)

    stream = host_stream(broken, 4)
    assert [int(next(stream)), int(next(stream))] == [0, 1]
    with pytest.raises(KeyError, match="record 2"):
        next(stream)
