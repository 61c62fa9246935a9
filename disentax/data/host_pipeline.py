"""Batches for the training loop: made on device, or read on the host and prefetched.

The loop asks for the batch of step ``s`` with ``source(s)``. Both kinds of
source compute it as ``method.sample_batch(dataset, fold_in(data_key, s), B)``,
so the batch is a pure function of ``(seed, s)`` and an interrupted run resumes
on exactly the batches it would have seen.

* Procedural datasets (rendered by jax): the sampler is jitted and runs on device.
* Host datasets (``dataset.on_host``, e.g. TFDS): the same call runs eagerly in a
  background thread that stays ``prefetch`` steps ahead and moves each batch to
  the device with ``jax.device_put``, so decoding overlaps the training step.

Several processes (multi-host training, ``jax.process_count() = P > 1``): each
process places only its rows ``[p * B/P, (p + 1) * B/P)`` of the global batch on
its own devices and the global array is assembled with
``jax.make_array_from_process_local_data`` (:func:`place_process_batch`). A batch
leaf whose leading axis is ``B`` (the global batch, e.g. a ground-truth grid's
``sample``) is cut to this process's rows first; one whose leading axis is ``B/P``
is taken to be those rows already (datasets that read only their share, like
:class:`~disentax.data.tfds.TFDSImages`); any other leaf (a scalar, a small table)
must be the same on every process and is placed whole.
"""

from __future__ import annotations

import functools
import queue
import threading
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DeviceBatches", "PrefetchBatches", "make_batch_source", "place_process_batch"]


class DeviceBatches:
    """``source(step)`` -> jitted on-device ``method.sample_batch`` at ``fold_in(data_key, step)``."""

    def __init__(self, make: Callable[[jax.Array], Any], data_key: jax.Array, sharding: Any = None):
        # `sharding`: a Sharding, or a function of the batch's shape tree giving one per leaf.
        if callable(sharding):
            sharding = sharding(jax.eval_shape(make, data_key))
        self._make = jax.jit(make, out_shardings=sharding)
        self._key = data_key

    def __call__(self, step: int):
        return self._make(jax.random.fold_in(self._key, step))

    def close(self) -> None:
        pass


class PrefetchBatches:
    """``source(step)`` for host-made batches, prefetched by one background thread.

    The producer computes ``make(step)`` for consecutive steps starting after the
    last one asked for and keeps up to ``prefetch`` of them, already on the device
    (or placed with ``sharding`` if given). Asking for any other step than the
    next one (a restart, a jump) computes it directly and restarts the producer
    after it, so results never depend on timing. Errors in the producer are
    raised by the call that would have received its batch.
    """

    def __init__(self, make: Callable[[int], Any], *, prefetch: int = 2, sharding: Any = None,
                 place: Callable[[Any], Any] | None = None):
        # `place(batch) -> device batch`, if given, replaces the device_put with `sharding`.
        if prefetch < 1:
            raise ValueError(f"prefetch must be >= 1, got {prefetch}")
        self._make, self._prefetch, self._sharding, self._place = make, int(prefetch), sharding, place
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._queue: queue.Queue | None = None
        self._next: int | None = None

    def _put(self, batch):
        if self._place is not None:
            return self._place(batch)
        if callable(self._sharding):
            return jax.device_put(batch, self._sharding(batch))
        if self._sharding is not None:
            return jax.device_put(batch, self._sharding)
        return jax.device_put(batch)

    def _start(self, first: int) -> None:
        self.close()
        stop, q = threading.Event(), queue.Queue(maxsize=self._prefetch)

        def produce():
            step = first
            while not stop.is_set():
                try:
                    item = (step, self._put(self._make(step)), None)
                except BaseException as error:  # handed to the consumer, then stop
                    item = (step, None, error)
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if item[2] is not None:
                    return
                step += 1

        self._stop, self._queue, self._next = stop, q, first
        self._thread = threading.Thread(target=produce, name="disentax-prefetch", daemon=True)
        self._thread.start()

    def __call__(self, step: int):
        step = int(step)
        if self._thread is not None and step == self._next:
            got, batch, error = self._queue.get()
            if error is not None:
                self.close()
                raise error
            assert got == step  # the producer runs strictly in order
            self._next = step + 1
            return batch
        batch = self._put(self._make(step))
        self._start(step + 1)
        return batch

    def close(self) -> None:
        """Stop the producer thread (idempotent)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        self._thread = self._stop = self._queue = self._next = None


def place_process_batch(batch: Any, batch_size: int, sharding: Any, *,
                        process_index: int | None = None, process_count: int | None = None) -> Any:
    """Global device arrays from this process's share of a host-made batch (see the module docstring).

    `sharding` is a Sharding for every leaf or a function of the batch's global shape tree
    giving one per leaf (the loop's ``batch_shardings``); leaves of the batch are laid out over
    the devices of all processes. With one process this is ``jax.device_put``.
    """
    count = jax.process_count() if process_count is None else int(process_count)
    index = jax.process_index() if process_index is None else int(process_index)
    batch_size = int(batch_size)
    if batch_size % count:
        raise ValueError(f"batch size {batch_size} must be divisible by the number of processes {count}")
    per = batch_size // count
    leaves, treedef = jax.tree.flatten(batch)
    rows, shapes = [], []
    for i, x in enumerate(leaves):
        n = np.shape(x)[0] if np.ndim(x) >= 1 else None
        is_rows = count > 1 and n in (batch_size, per)
        if is_rows:
            x = np.asarray(x)
            if n == batch_size:  # the global batch: keep this process's rows
                x = x[index * per : (index + 1) * per]
            shapes.append(jax.ShapeDtypeStruct((batch_size, *x.shape[1:]), x.dtype))
        else:
            shapes.append(jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x)))
        rows.append(is_rows)
        leaves[i] = x
    if sharding is None:
        from disentax.train.sharding import batch_shardings, make_mesh

        sharding = functools.partial(batch_shardings, mesh=make_mesh())
    if callable(sharding):
        per_leaf = jax.tree.leaves(sharding(jax.tree.unflatten(treedef, shapes)))
    else:
        per_leaf = [sharding] * len(leaves)
    out = []
    for x, is_rows, shape, s in zip(leaves, rows, shapes, per_leaf):
        if count == 1:
            out.append(jax.device_put(x, s))
        elif not is_rows:
            # Not device_put: across processes it checks equality with a collective, which from the
            # prefetch thread can interleave with the step's collectives in a different order on
            # each process and deadlock. Building from local data involves no communication.
            value = np.asarray(x)
            out.append(jax.make_array_from_callback(value.shape, s, lambda idx, v=value: v[idx]))
        elif s.is_fully_replicated:
            raise ValueError(
                f"batch size {batch_size} must be divisible by the number of devices {len(s.device_set)} "
                f"when {count} processes train"
            )
        else:
            out.append(jax.make_array_from_process_local_data(s, np.asarray(x), shape.shape))
    return jax.tree.unflatten(treedef, out)


def make_batch_source(method, dataset, data_key: jax.Array, batch_size: int, *,
                      prefetch: int = 2, sharding: Any = None):
    """The loop's ``source(step) -> batch`` and ``source.close()`` for ``dataset``.

    ``batch(step) = method.sample_batch(dataset, fold_in(data_key, step), batch_size)``,
    jitted on device for procedural datasets, prefetched from the host for
    datasets with ``on_host = True`` (with several processes, each places only its
    share of the global batch, :func:`place_process_batch`).
    """
    batch_size = int(batch_size)
    if not getattr(dataset, "on_host", False):
        return DeviceBatches(lambda k: method.sample_batch(dataset, k, batch_size), data_key, sharding)

    def make(step: int):
        return method.sample_batch(dataset, jax.random.fold_in(data_key, step), batch_size)

    if jax.process_count() > 1:
        place = functools.partial(place_process_batch, batch_size=batch_size, sharding=sharding)
        return PrefetchBatches(make, prefetch=prefetch, place=place)
    return PrefetchBatches(make, prefetch=prefetch, sharding=sharding)
