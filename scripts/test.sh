#!/usr/bin/env bash
# The whole test suite: install dependencies (PyTorch included), build, run ctest.
# ctest's summary is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/build.sh
cd build
exec ctest --output-on-failure -j "${GRAFT_TEST_JOBS:-$(nproc)}"
