#!/usr/bin/env bash
# CI step for the notebooks: install the notebooks extra (nbclient, ipykernel, nbformat,
# matplotlib) and execute every colabs/*.ipynb top to bottom at smoke sizes
# (DISENTAX_NOTEBOOK_SMOKE=1, set by the test); a cell that raises fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${DISENTAX_CI_INSTALLED:-}" ] || python3 -m pip install -e ".[test,notebooks]"
python3 -m pytest tests/notebooks -q -o addopts="-ra" -n auto --dist load
