"""The host-batch prefetcher: batches equal make(step) whatever the call order; errors surface."""
import threading

import jax
import numpy as np
import pytest

from disentax.data import DSprites
from disentax.data.host_pipeline import DeviceBatches, PrefetchBatches, make_batch_source
from disentax.methods import images_only


def test_prefetched_batches_follow_any_step_order_and_run_ahead():
    made = []

    def make(step):
        made.append(step)
        return np.full((2, 3), step, np.float32)

    source = PrefetchBatches(make, prefetch=2)
    try:
        np.testing.assert_array_equal(np.asarray(source(0)), np.zeros((2, 3)))
        # The producer works ahead: steps 1 and 2 get made before anyone asks for them.
        for _ in range(1000):
            if {1, 2} <= set(made):
                break
            threading.Event().wait(0.01)
        assert {1, 2} <= set(made)
        for step in (1, 2, 3, 10, 11, 4, 4):
            batch = source(step)
            assert isinstance(batch, jax.Array)
            np.testing.assert_array_equal(np.asarray(batch), np.full((2, 3), step))
    finally:
        source.close()
    assert not any(t.name == "disentax-prefetch" and t.is_alive() for t in threading.enumerate())


def test_an_error_in_the_producer_reaches_the_caller_of_that_step():
    def make(step):
        if step == 3:
            raise RuntimeError("bad record at step 3")
        return np.zeros(1)

    source = PrefetchBatches(make, prefetch=1)
    try:
        source(0), source(1), source(2)
        with pytest.raises(RuntimeError, match="step 3"):
            source(3)
        np.testing.assert_array_equal(np.asarray(source(4)), np.zeros(1))  # restarts cleanly
    finally:
        source.close()


def test_device_datasets_keep_the_jitted_on_device_sampler():
    key = jax.random.PRNGKey(0)
    source = make_batch_source(images_only(DSprites()), False, key, 4)
    assert isinstance(source, DeviceBatches)
    want = DSprites().sample(jax.random.fold_in(key, 7), 4)[0]
    np.testing.assert_array_equal(np.asarray(source(7)), np.asarray(want))
