#!/usr/bin/env bash
# Writes a torchvision resnet50 checkpoint (torch.save, zip layout) and times loading it into
# graft's resnet50 against reading its bytes, warm and cold cache. Usage: bench/checkpoint_load.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
checkpoint=$(mktemp --suffix=.pth)
trap 'rm -f "$checkpoint"' EXIT
/usr/bin/python3 -c "import sys, torch, torchvision; torch.save(torchvision.models.resnet50().state_dict(), sys.argv[1])" "$checkpoint"
GRAFT_BENCH_CHECKPOINT="$checkpoint" "$build/bench/bench_checkpoint_load"
