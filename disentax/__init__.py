"""disentax: disentangled representation learning with VAEs, as pure JAX functions.

    from disentax import objectives, estimators, distributions

The submodules load on first use, so `disentax train` can take charge of SIGINT/SIGTERM before
JAX is imported (`disentax.cli`).
"""
import importlib

__version__ = "0.1.0"
__all__ = ["distributions", "estimators", "objectives", "__version__"]
_LAZY = ("distributions", "estimators", "objectives")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"disentax.{name}")
    raise AttributeError(f"module 'disentax' has no attribute {name!r}")
