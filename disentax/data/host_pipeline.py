"""Batches for the training loop: made on device, or read on the host and prefetched.

The loop asks for the batch of step ``s`` with ``source(s)``. Both kinds of
source compute it as ``method.sample_batch(fold_in(data_key, s), B)``,
so the batch is a pure function of ``(seed, s)`` and an interrupted run resumes
on exactly the batches it would have seen.

* Procedural datasets (rendered by jax): the sampler is jitted and runs on device.
* Host datasets (``dataset.on_host``, e.g. TFDS): the same call runs eagerly in a
  background thread that stays ``prefetch`` steps ahead and moves each batch to
  the device with ``jax.device_put``, so decoding overlaps the training step.

Several processes (multi-host): a host sampler returns, per leaf, either this process's rows
of the global batch (leading axis ``batch_size / process_count``: the TFDS image loaders read
only their share), or an array every process holds whole (the global batch, e.g. a factor
grid dataset that renders all of it; scalars; per-group tables marked `Replicated`). The
prefetcher assembles global arrays from the first kind with
``jax.make_array_from_process_local_data`` and the second with ``jax.make_array_from_callback``.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

import jax
import numpy as np

__all__ = ["DeviceBatches", "PrefetchBatches", "Replicated", "make_batch_source"]


class Replicated(np.ndarray):
    """A host batch leaf that is the same on every process (not this process's rows), e.g. the
    per-group table of a grouped batch; only matters when several processes train."""


def replicated(x) -> Replicated:
    """`x` as a numpy array marked `Replicated`."""
    return np.asarray(x).view(Replicated)


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
                 batch_size: int | None = None):
        if prefetch < 1:
            raise ValueError(f"prefetch must be >= 1, got {prefetch}")
        self._make, self._prefetch, self._sharding = make, int(prefetch), sharding
        # Multi-process assembly (module docstring) needs the global batch size.
        self._batch_size = batch_size
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._queue: queue.Queue | None = None
        self._next: int | None = None

    def _put(self, batch):
        if self._sharding is not None and jax.process_count() > 1:
            return jax.tree.map(self._put_global, batch)
        if callable(self._sharding):
            return jax.device_put(batch, self._sharding(batch))
        if self._sharding is not None:
            return jax.device_put(batch, self._sharding)
        return jax.device_put(batch)

    def _put_global(self, x):
        """One leaf as a global array, laid out by `sharding` applied to its global shape."""
        x = np.asarray(x)
        local_rows = (not isinstance(x, Replicated) and x.ndim >= 1
                      and x.shape[0] * jax.process_count() == self._batch_size)
        shape = (self._batch_size, *x.shape[1:]) if local_rows else x.shape
        sharding = self._sharding
        if callable(sharding):
            sharding = sharding(jax.ShapeDtypeStruct(shape, x.dtype))
        if local_rows:
            return jax.make_array_from_process_local_data(sharding, x, shape)
        # Each process fills its own devices from its whole copy: no cross-process traffic, which
        # matters here because this runs in the prefetch thread while the step's collectives run.
        return jax.make_array_from_callback(shape, sharding, lambda index: x[index])

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


def make_batch_source(sample_batch: Callable, on_host: bool, data_key: jax.Array, batch_size: int, *,
                      prefetch: int = 2, sharding: Any = None):
    """The loop's ``source(step) -> batch`` and ``source.close()``.

    ``batch(step) = sample_batch(fold_in(data_key, step), batch_size)``, jitted on device for
    procedural datasets, prefetched from the host when the dataset reads there (``on_host``).
    """
    batch_size = int(batch_size)
    if not on_host:
        return DeviceBatches(lambda k: sample_batch(k, batch_size), data_key, sharding)

    def make(step: int):
        return sample_batch(jax.random.fold_in(data_key, step), batch_size)

    return PrefetchBatches(make, prefetch=prefetch, sharding=sharding, batch_size=batch_size)
