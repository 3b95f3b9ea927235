#!/usr/bin/env bash
# Writes a torchvision resnet50 checkpoint (torch.save, zip layout) and times loading it into
# graft's resnet50 against reading its bytes, warm and cold cache, then prints the medians of five
# repetitions and their ratios as a markdown table. Usage: bench/checkpoint_load.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
checkpoint=$(mktemp --suffix=.pth)
results=$(mktemp --suffix=.json)
trap 'rm -f "$checkpoint" "$results"' EXIT
/usr/bin/python3 -c "import sys, torch, torchvision; torch.save(torchvision.models.resnet50().state_dict(), sys.argv[1])" "$checkpoint"
GRAFT_BENCH_CHECKPOINT="$checkpoint" "$build/bench/bench_checkpoint_load" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_out="$results" --benchmark_out_format=json
/usr/bin/python3 - "$results" <<'PY'
import json, sys
median = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name") == "median":
        name, cache = b["run_name"].split("/")[:2]
        median[(name, "cold" if cache == "1" else "warm")] = b["real_time"]
print("\n| cache | read into 4 MiB buffer | read into file-sized buffer | load into resnet50 | load / 4 MiB read | load / file-sized read |")
print("|---|---:|---:|---:|---:|---:|")
for cache in ("warm", "cold"):
    small, whole, load = (median[(n, cache)] for n in ("BM_ReadFileBytes", "BM_ReadFileIntoOneBuffer", "BM_LoadIntoResNet50"))
    print(f"| {cache} | {small:.1f} ms | {whole:.1f} ms | {load:.1f} ms | {load / small:.2f}x | {load / whole:.2f}x |")
PY
