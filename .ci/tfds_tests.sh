#!/usr/bin/env bash
# CI step for the real-dataset loaders: install the tfds extra (tensorflow-datasets without
# TensorFlow, ~60 MB of wheels, mostly pyarrow) and run their offline tests on mock data.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${DISENTAX_CI_INSTALLED:-}" ] || python3 -m pip install -e ".[tfds,test]"
python3 -m pytest tests/tfds -q -o addopts="-ra" -n auto --dist loadscope
