import os
import tempfile

# Tests run on the CPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Many tests train the same small networks again (resume tests recompile the step on each
# call); a persistent compilation cache shared across the session compiles each once.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "disentax-test-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# XLA:CPU's LLVM backend at optimisation level 1 instead of 2. The suite compiles hundreds of
# small programs and runs each a few times, and level 2 spends most of a compilation on kernels
# that run for microseconds: the tiny SD-GAN's initialisation compiles in 3.3 s instead of 20.5 s,
# and 3 training steps of five tiny methods (compile included) take 64 s instead of 104 s. The
# numbers stay those users get at level 2 for β-VAE, FactorVAE and SD-GAN (parameters bit for bit
# after 3 steps); ICM's and β-TCVAE's differ in the last bits. Every comparison in the suite is
# between runs under the same flags: subprocesses inherit them (helpers.child_env). Read when the
# backend starts, so before any test touches JAX.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1").strip()

# tests/multidevice needs 8 simulated devices, set before JAX starts: it runs in its own
# process (.ci/multidevice_tests.sh), never inside the main suite.
collect_ignore = [] if "device_count=8" in os.environ.get("XLA_FLAGS", "") else ["multidevice"]
