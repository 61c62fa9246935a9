import os

# Tests run on the CPU; keep XLA from grabbing every core's worth of threads per process.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# tests/multidevice needs 8 simulated devices, set before JAX starts: it runs in its own
# process (.ci/multidevice_tests.sh), never inside the main suite.
collect_ignore = [] if "device_count=8" in os.environ.get("XLA_FLAGS", "") else ["multidevice"]
