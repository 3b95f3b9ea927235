#!/usr/bin/env bash
# The main job: install dependencies, build, run graft's end-to-end training self-check, then the
# Fashion-MNIST transfer demo (pretrain on five classes; learn the other five from 10, 50 and 200
# labels per class from scratch, by a linear probe and by fine-tuning). The demo prints its table
# and writes results.md, results.json and accuracy.svg into demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
scripts/build.sh
build/graft selftest
# Passive OpenMP waiting: idle kernel threads sleep instead of spinning. On a 2-core machine shared
# with other jobs, spinning made the demo over twice as slow; the results are identical either way.
OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" build/graft transfer-demo --out demo-output
