import os
import tempfile

# Tests run on the CPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Many tests train the same small networks again (resume tests recompile the step on each
# call); a persistent compilation cache shared across the session compiles each once.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "disentax-test-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# XLA:CPU's LLVM backend at optimisation level 0 instead of 2. The suite compiles hundreds of
# small programs and runs each a few times, and the optimising levels spend most of a compilation
# on kernels that run for microseconds: the train steps of seven tiny methods compiled in 57 s at
# level 0, 107 s at level 1, while one step ran 1.5-2.5x slower (milliseconds). The arithmetic stays
# IEEE without fast math, so every tolerance in the suite holds; comparisons between runs (resume,
# sharded vs single-device) are between runs under the same flags, since subprocesses inherit them
# (helpers.child_env). Turning the MLIR fusion emitters off as well compiled in 45-49 s, but then a
# batch drawn inside the jitted step no longer matched the one drawn outside bit for bit (each
# flag alone keeps it), so it is not used. Read when the backend starts, before any test uses JAX.
_FAST_COMPILE = ("--xla_backend_optimization_level=0",)
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *_FAST_COMPILE]).strip()

# tests/multidevice needs 8 simulated devices, set before JAX starts: it runs in its own
# process (.ci/multidevice_tests.sh), never inside the main suite.
collect_ignore = [] if "device_count=8" in os.environ.get("XLA_FLAGS", "") else ["multidevice"]
