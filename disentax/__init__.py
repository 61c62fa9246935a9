"""disentax: disentangled representation learning with VAEs, as pure JAX functions.

    from disentax import objectives, estimators, distributions
"""
from disentax import distributions, estimators, objectives  # noqa: F401

__version__ = "0.1.0"
__all__ = ["distributions", "estimators", "objectives", "__version__"]
