#!/usr/bin/env bash
# The Python package: `pip install ./python` into a fresh venv, then its pytest suite against
# the build's libseam.so and seam binary (python/tests/test_seam.py).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SEAM_BUILD:-build}
V=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$V")"' EXIT
python3 -m venv "$V"
"$V/bin/pip" install -q "./python[sweep]" pytest
echo "  pip install ./python into a fresh venv: seam $("$V/bin/pip" show seam | sed -n 's/^Version: //p')"
export SEAM_LIBRARY_PATH=$(realpath "$B") SEAM_BIN=$(realpath "$B/seam")
export SEAM_MODEL=$(realpath "${SEAM_MODEL:-models/gemma-3-270m-q4_k_m.gguf}")
cd python/tests # not the source folder: the installed package is what is tested
"$V/bin/python" -m pytest -q -p no:cacheprovider .
