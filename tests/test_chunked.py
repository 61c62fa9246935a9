"""`apply_in_chunks`: the chunked result equals the whole-array call row for row, and a jitted
function compiles once per chunk shape (once in all when the last chunk is padded)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax.metrics.chunked import apply_in_chunks

CHUNK = 4
SIZES = [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 2]


def _fn(x, y):
    # Integer arithmetic: exact, so chunked and whole calls must agree to the bit.
    return {"total": x.sum(axis=1) + y, "pair": (2 * x, y - 1)}


def _brute(x, y):
    # One row at a time, in numpy.
    total = np.array([int(row.sum()) + int(v) for row, v in zip(x, y)], np.int32)
    return {"total": total, "pair": (np.stack([2 * row for row in x]), np.array([v - 1 for v in y], np.int32))}


def _inputs(n):
    rng = np.random.default_rng(n)
    return rng.integers(-50, 50, (n, 3), dtype=np.int32), rng.integers(-50, 50, (n,), dtype=np.int32)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("pad", [False, True])
@pytest.mark.parametrize("host", [False, True])
def test_chunks_equal_the_whole_array_call(n, pad, host):
    x, y = _inputs(n)
    got = apply_in_chunks(jax.jit(_fn), jnp.asarray(x), y, chunk=CHUNK, pad=pad, host=host)
    want = _brute(x, y)
    whole = jax.tree.map(np.asarray, _fn(jnp.asarray(x), jnp.asarray(y)))
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for g, w, v in zip(jax.tree.leaves(got), jax.tree.leaves(want), jax.tree.leaves(whole)):
        assert isinstance(g, np.ndarray) if host else isinstance(g, jax.Array)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(np.asarray(g), w)
        np.testing.assert_array_equal(np.asarray(g), v)


def test_float_outputs_match_a_row_by_row_loop_bit_for_bit():
    x = np.random.default_rng(0).normal(size=(3 * CHUNK + 2, 5)).astype(np.float32)
    got = apply_in_chunks(lambda a: np.tanh(a) * 3.0, x, chunk=CHUNK, host=True)
    np.testing.assert_array_equal(got, np.stack([np.tanh(row) * 3.0 for row in x]))


def test_chunk_larger_than_the_rows_and_list_outputs():
    x, _ = _inputs(2)
    got = apply_in_chunks(lambda a: [a + 1, a * a], x, chunk=100, pad=True)
    assert isinstance(got, list) and len(got) == 2
    np.testing.assert_array_equal(np.asarray(got[0]), x + 1)
    np.testing.assert_array_equal(np.asarray(got[1]), x * x)


def test_padding_repeats_the_last_row_and_never_reaches_the_output():
    seen = []

    def fn(a):
        seen.append(np.asarray(a).copy())
        return a * 10

    x = np.arange(6 * 2).reshape(6, 2)
    got = apply_in_chunks(fn, x, chunk=4, pad=True, host=True)
    np.testing.assert_array_equal(got, x * 10)
    assert [s.shape for s in seen] == [(4, 2), (4, 2)]
    np.testing.assert_array_equal(seen[1], np.stack([x[4], x[5], x[5], x[5]]))


def test_unpadded_chunks_are_passed_as_they_are():
    seen = []
    apply_in_chunks(lambda a: seen.append(a.shape) or a, np.zeros((9, 2)), chunk=4)
    assert seen == [(4, 2), (4, 2), (1, 2)]


def test_padded_jitted_fn_compiles_once_for_every_number_of_rows():
    traces = []

    @jax.jit
    def fn(x, y):
        traces.append((x.shape, y.shape))  # runs at trace time only: one entry per compilation
        return _fn(x, y)

    for n in range(1, 3 * CHUNK + 3):
        x, y = _inputs(n)
        apply_in_chunks(fn, x, y, chunk=CHUNK, pad=True)
    assert traces == [((CHUNK, 3), (CHUNK,))]


def test_unpadded_jitted_fn_compiles_once_per_chunk_shape():
    traces = []

    @jax.jit
    def fn(x, y):
        traces.append(x.shape[0])
        return _fn(x, y)

    expected = set()
    for n in SIZES:
        x, y = _inputs(n)
        apply_in_chunks(fn, x, y, chunk=CHUNK)
        expected |= ({CHUNK} if n >= CHUNK else set()) | ({n % CHUNK} if n % CHUNK else set())
    assert sorted(traces) == sorted(expected)  # each shape once, whatever the number of rows


def test_rejects_zero_rows_mismatched_rows_and_bad_chunks():
    with pytest.raises(ValueError, match="at least one row"):
        apply_in_chunks(lambda a: a, np.zeros((0, 3)), chunk=CHUNK)
    with pytest.raises(ValueError, match="leading dimensions differ"):
        apply_in_chunks(lambda a, b: a, np.zeros((5, 3)), np.zeros(4), chunk=CHUNK)
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        apply_in_chunks(lambda a: a, np.zeros((5, 3)), chunk=0)
    with pytest.raises(ValueError, match="at least one array"):
        apply_in_chunks(lambda: 0, chunk=CHUNK)
