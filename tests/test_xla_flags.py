"""disentax.xla_flags: which XLA:CPU option `import disentax` adds, when it leaves XLA_FLAGS alone,
and that the option does what it is for (a large 2-D convolution is no longer a YNNPACK fusion)."""
import os
import subprocess
import sys

import pytest

from disentax import xla_flags

FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"


def test_adds_the_option_to_empty_and_existing_flags():
    env = {}
    assert xla_flags.apply_cpu_defaults(env, jaxlib_version="0.10.2") == (FLAG,)
    assert env["XLA_FLAGS"] == FLAG
    env = {"XLA_FLAGS": "--xla_backend_optimization_level=1"}
    xla_flags.apply_cpu_defaults(env, jaxlib_version="0.10.7")
    assert env["XLA_FLAGS"] == f"--xla_backend_optimization_level=1 {FLAG}"


def test_applying_twice_adds_it_once():
    env = {}
    xla_flags.apply_cpu_defaults(env, jaxlib_version="0.10.2")
    assert xla_flags.apply_cpu_defaults(env, jaxlib_version="0.10.2") == ()
    assert env["XLA_FLAGS"].split().count(FLAG) == 1


@pytest.mark.parametrize("env,version", [
    ({"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=dot"}, "0.10.2"),  # the user's own choice wins
    ({"DISENTAX_XLA_DEFAULTS": "0"}, "0.10.2"),  # opted out
    ({}, "0.11.0"),  # an XLA the option was not measured on (it may not know the flag, and XLA stops on those)
    ({}, "0.9.3"),
])
def test_leaves_the_flags_alone(env, version):
    before = dict(env)
    assert xla_flags.apply_cpu_defaults(env, jaxlib_version=version) == ()
    assert env == before


_PROBE = """
import disentax, jax, jax.numpy as jnp
from jax import lax
x = jax.ShapeDtypeStruct((64, 32, 32, 64), jnp.float32)
k = jax.ShapeDtypeStruct((3, 3, 64, 64), jnp.float32)
conv = jax.jit(lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
print("ynn" in conv.lower(x, k).compile().as_text().lower())
"""


@pytest.mark.skipif(not xla_flags.cpu_defaults({}), reason="this jaxlib gets no CPU defaults")
@pytest.mark.parametrize("opt_out", [False, True])
def test_the_option_takes_the_convolution_from_ynnpack(opt_out):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if opt_out:
        env["DISENTAX_XLA_DEFAULTS"] = "0"
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(opt_out)
