"""disentax: disentangled representation learning with VAEs, as pure JAX functions.

    from disentax import objectives, estimators, distributions

The submodules load on first use, so `disentax train` can take charge of SIGINT/SIGTERM before
JAX is imported (`disentax.cli`). Importing it sets one XLA:CPU option (`disentax.xla_flags`:
YNNPACK's 2-D convolutions off, measured ~3x slower here) unless `DISENTAX_XLA_DEFAULTS=0`.
"""
import importlib

from disentax.xla_flags import apply_cpu_defaults

apply_cpu_defaults()

__version__ = "0.1.0"
__all__ = ["distributions", "estimators", "objectives", "__version__"]
_LAZY = ("distributions", "estimators", "objectives")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"disentax.{name}")
    raise AttributeError(f"module 'disentax' has no attribute {name!r}")
