import os
import tempfile

# Tests run on the CPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Many tests train the same small networks again (resume tests recompile the step on each
# call); a persistent compilation cache shared across the session compiles each once.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "disentax-test-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
