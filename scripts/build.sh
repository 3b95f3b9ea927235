#!/usr/bin/env bash
# Configures and builds graft into build/ (Release). Extra arguments go to CMake's configure step,
# e.g. scripts/build.sh -DGRAFT_CUDA=OFF. Parallel jobs: GRAFT_BUILD_JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "${GRAFT_BUILD_JOBS:-$(nproc)}"
