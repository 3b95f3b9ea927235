#!/usr/bin/env bash
# Downloads the Debian packages that graft's build needs beyond a C++ compiler, CMake and the CUDA
# toolkit (GoogleTest, Google Benchmark, stb, zlib's headers) into .gpu-deps/, for a GPU machine
# that has no package registry: copy the folder there with the tree, and scripts/gpu_bench.sh
# unpacks the packages into a private prefix (never over the system's own files).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
cd .gpu-deps
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -q >/dev/null
apt-get download libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian libstb-dev libstb0 zlib1g-dev zlib1g
ls -l
