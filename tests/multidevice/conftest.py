"""Tests on 8 simulated CPU devices. XLA reads the flag when the backend starts, so this
folder runs in its own pytest process (.ci/multidevice_tests.sh); the main suite skips it."""
import os

_FLAG = "--xla_force_host_platform_device_count=8"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _FLAG).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _eight_devices():
    if jax.device_count() != 8:
        pytest.exit(f"tests/multidevice need 8 devices, got {jax.device_count()}: jax started before "
                    "conftest set XLA_FLAGS; run .ci/multidevice_tests.sh", returncode=2)
