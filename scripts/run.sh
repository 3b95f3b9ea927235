#!/usr/bin/env bash
# The main job: install dependencies, build, and run graft's end-to-end training self-check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
scripts/build.sh
build/graft selftest
