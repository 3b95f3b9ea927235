#!/usr/bin/env bash
# Installs what graft needs from Debian's packages. Usage: scripts/setup.sh [build|test]
#   build: compiler, CMake, GoogleTest, Google Benchmark, stb, zlib, Fashion-MNIST
#   test:  the above plus PyTorch and torchvision (the oracle for the parity tests)
# Packages already installed are not fetched again, so this is quick (and offline) the second time.
set -euo pipefail

packages=(g++ cmake make curl googletest libgtest-dev libgmock-dev libbenchmark-dev libstb-dev zlib1g-dev
          dataset-fashion-mnist)
if [[ "${1:-build}" == "test" ]]; then
  packages+=(python3 python3-torch python3-torchvision python3-numpy python3-pil)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
