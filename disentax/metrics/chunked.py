"""Apply a function to the rows of arrays in fixed-size chunks and concatenate the outputs.

The evaluations run trained networks (judges, language models, encoders) over evaluation sets of
thousands of rows. One call on the whole set would hold every activation at once; chunks of at
most `chunk` rows bound the memory to one chunk's. The helper lives with the metrics (the lowest
layer that uses it, `encode_batches`) so the evaluations above can share it.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["apply_in_chunks"]


def _pad_rows(a, rows: int):
    # Repeating the last real row (rather than zeros) keeps the padding a valid input (token
    # lengths >= 1, images in range), and rows do not interact, so it never reaches a kept row.
    xp = np if isinstance(a, np.ndarray) else jnp
    return xp.concatenate([a, xp.repeat(a[-1:], rows - a.shape[0], axis=0)])


def apply_in_chunks(fn: Callable, *arrays: Any, chunk: int, pad: bool = False, host: bool = False) -> Any:
    """``fn(*arrays)`` computed on consecutive row slices ``[i : i + chunk]``, rows concatenated.

    `fn` maps arrays with a common leading dimension B to an array or a pytree (tuple, list,
    dict) of arrays with leading dimension B, and its rows must not interact (a network applied
    example by example), so the chunked result equals the whole-array call row for row.

    Chunks bound the memory to one chunk's activations. A jitted `fn` compiles once per distinct
    input shape: with ``pad=False`` once for the full chunks and once for the shorter last one
    (the slices are passed as they are); with ``pad=True`` the last chunk is padded to `chunk` rows
    by repeating its final row and the padding dropped from the output, so every call has the
    same shape and `fn` compiles once for any number of rows.

    ``host=True`` moves each chunk's output to numpy before the next chunk runs (the device then
    holds one chunk's output at a time) and returns numpy arrays; ``host=False`` concatenates on
    the device and returns jax arrays. Concatenation is exact, so either gives the values `fn`
    returned, bit for bit. Raises ValueError for zero rows (there is no chunk to call `fn` on) or
    arrays whose leading dimensions differ.
    """
    chunk = int(chunk)
    if chunk < 1:
        raise ValueError(f"apply_in_chunks: chunk must be >= 1, got {chunk}")
    if not arrays:
        raise ValueError("apply_in_chunks needs at least one array")
    sizes = {int(a.shape[0]) for a in arrays}
    if len(sizes) != 1:
        raise ValueError(f"apply_in_chunks: the arrays' leading dimensions differ: {[a.shape[0] for a in arrays]}")
    n = sizes.pop()
    if n < 1:
        raise ValueError("apply_in_chunks needs at least one row")
    parts = []
    for start in range(0, n, chunk):
        sliced = [a[start:start + chunk] for a in arrays]
        take = min(chunk, n - start)
        if pad and take < chunk:
            out = jax.tree.map(lambda o, t=take: o[:t], fn(*(_pad_rows(a, chunk) for a in sliced)))
        else:
            out = fn(*sliced)
        parts.append(jax.tree.map(np.asarray, out) if host else out)
    concatenate = np.concatenate if host else jnp.concatenate
    return jax.tree.map(lambda *rows: concatenate(rows, 0), *parts)
