#!/usr/bin/env bash
# The reproduction scripts on dSprites at their smoke budget, in their own step: each compiles the
# full-size conv programs of several sweeps, minutes on 2 cores, which the main suite leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."
export DISENTAX_REPRODUCE_DSPRITES=1
python -m pytest tests/test_reproduce.py -q -k "dsprites or mig" "$@"
