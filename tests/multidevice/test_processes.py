"""Two real JAX processes (2 CPU devices each, joined by jax.distributed over localhost): host-made
batches are placed per process and assemble into the global batch a single process would make."""
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent('''
    import sys
    import jax
    pid, port = int(sys.argv[1]), sys.argv[2]
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=pid)
    import numpy as np
    from jax.experimental import multihost_utils
    from disentax.data.host_pipeline import make_batch_source
    from disentax.train.sharding import batch_shardings, make_mesh

    B = 8

    class Rows:  # a host dataset: the global batch of a key, as numpy
        on_host = True

        def sample(self, key, n):
            seed = int(np.asarray(jax.random.key_data(key)).sum()) % 1000
            return np.arange(n * 3, dtype=np.float32).reshape(n, 3) + seed

    class Method:  # global images, this process's share of labels (as TFDSImages gives), a flag
        @staticmethod
        def sample_batch(ds, key, n):
            x = ds.sample(key, n)
            p, per = jax.process_index(), n // jax.process_count()
            return {"x": x, "labels": x[p * per:(p + 1) * per, 0].astype(np.int32), "flag": np.float32(1.0)}

    assert jax.process_count() == 2 and jax.device_count() == 4 and jax.local_device_count() == 2
    mesh = make_mesh()
    key = jax.random.PRNGKey(3)
    source = make_batch_source(Method, Rows(), key, B, sharding=lambda b: batch_shardings(b, mesh))
    try:
        for step in (0, 1, 2, 0):
            got = source(step)
            assert got["x"].shape == (B, 3) and got["labels"].shape == (B,)
            assert len(got["x"].addressable_shards) == 2  # only this process's devices hold data here
            want = Rows().sample(jax.random.fold_in(key, step), B)
            x = multihost_utils.process_allgather(got["x"], tiled=True)
            labels = multihost_utils.process_allgather(got["labels"], tiled=True)
            np.testing.assert_array_equal(x, want)
            np.testing.assert_array_equal(labels, want[:, 0].astype(np.int32))
            assert float(jax.jit(lambda b: b["flag"])(got)) == 1.0
    finally:
        source.close()
    print("ok", pid, flush=True)
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_host_batches_assemble_across_two_processes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, str(script), str(p), port], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for p in (0, 1)]
    outs = []
    try:
        for proc in procs:
            outs.append(proc.communicate(timeout=120)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for p, (proc, out) in enumerate(zip(procs, outs)):
        assert proc.returncode == 0 and f"ok {p}" in out, out[-3000:]
