#!/usr/bin/env bash
# The whole test suite: install dependencies (PyTorch included), build, run ctest.
# ctest's summary line ("N% tests passed, M tests failed out of T") is printed last.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/build.sh
cd build
set +e
# ctest runs as many tests at once as there are cores, each with its own kernel threads (and
# PyTorch's, in oracle scripts): idle OpenMP threads must sleep rather than spin, or the
# oversubscribed tests starve one another and run many times slower.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
ctest --output-on-failure -j "${GRAFT_TEST_JOBS:-$(nproc)}" 2>&1 | tee ctest.log
status=${PIPESTATUS[0]}
# ctest lists skipped tests after its summary; repeat the summary so it is the last line.
grep -E "tests passed, .* tests failed out of" ctest.log | tail -n 1
exit "$status"
