"""XLA:CPU settings the library applies when it is imported (before JAX starts its CPU backend).

jaxlib 0.10 hands XLA:CPU's 2-D convolutions to YNNPACK by default. For the convolutions of this
library's networks that is 2.8-3.2x slower than XLA's own (Eigen) convolutions, forward and
backward (3x3 at 64 channels: 255 vs 80 ms; 4x4 stride 2: 26 vs 9 ms, batch 64), and the
standard conv β-VAE step is 1.2x slower (`benchmarks/RESULTS.md`, section 5). So, unless told
otherwise, `import disentax` adds

    --xla_cpu_experimental_ynn_fusion_type=-individual_convolution

to `XLA_FLAGS`. Only XLA:CPU reads it; GPU and TPU programs are unchanged. It is left alone when
`XLA_FLAGS` already sets that option, when `DISENTAX_XLA_DEFAULTS=0`, and for other jaxlib
versions (XLA stops on a flag it does not know, and the option is experimental). It takes effect
only if JAX has not yet started its CPU backend in this process; subprocesses inherit it, so a
`disentax train` child and an in-process run compile the same way.
"""
from __future__ import annotations

import os
from importlib import metadata

YNN_OPTION = "--xla_cpu_experimental_ynn_fusion_type"
CPU_DEFAULTS = (f"{YNN_OPTION}=-individual_convolution",)
_MEASURED_JAXLIB = ("0.10.",)  # versions whose XLA knows the option and where it was measured


def _jaxlib_version() -> str | None:
    try:
        return metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return None


def cpu_defaults(environ=os.environ, jaxlib_version: str | None = None) -> tuple[str, ...]:
    """The flags `apply_cpu_defaults` would add to `environ["XLA_FLAGS"]` (empty if none)."""
    if environ.get("DISENTAX_XLA_DEFAULTS", "1") == "0":
        return ()
    version = _jaxlib_version() if jaxlib_version is None else jaxlib_version
    if version is None or not version.startswith(_MEASURED_JAXLIB):
        return ()
    if YNN_OPTION in environ.get("XLA_FLAGS", ""):
        return ()
    return CPU_DEFAULTS


def apply_cpu_defaults(environ=os.environ, jaxlib_version: str | None = None) -> tuple[str, ...]:
    """Append `cpu_defaults` to `environ["XLA_FLAGS"]`; returns what was added."""
    added = cpu_defaults(environ, jaxlib_version)
    if added:
        environ["XLA_FLAGS"] = " ".join([environ.get("XLA_FLAGS", ""), *added]).strip()
    return added
