#!/usr/bin/env bash
# Data-parallel tests on 8 simulated CPU devices, in their own process: XLA_FLAGS must be
# set before JAX starts, which the main pytest process has already done.
set -euo pipefail
cd "$(dirname "$0")/.."
export XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=8"
export JAX_PLATFORMS=cpu
python -m pytest tests/multidevice -q "$@"
