#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, in one go (about 10 minutes on an H100):
#   1. builds graft with CUDA into build-gpu/ on every core (for the GPU present, sm_90 by default),
#   2. runs every CUDA test, then the same tests under compute-sanitizer memcheck,
#   3. runs every GPU benchmark (bench_cuda_*), which validate before they time,
# and writes one markdown report, <results>/<gpu>.md (e.g. bench/results/h100.md), with the logs
# beside it (build.log, gpu_tests.log, memcheck.log, bench.log).
# Usage: scripts/gpu_bench.sh [RESULTS_DIR [STAGE...]]   (default bench/results, every stage)
# Stages: tests, memcheck, bench (every benchmark) or one benchmark's name (bench_cuda_gemm, ...).
# The build always comes first and is incremental, so a machine with a short limit per command can
# run the stages over several calls into the same build-gpu/ (each writes its own report).
# Packages from scripts/fetch_gpu_deps.sh in .gpu-deps/ are unpacked into a private prefix first,
# for machines without a package registry. Exits non-zero when a test or the sanitizer failed.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(realpath -m "${1:-bench/results}")
mkdir -p "$results"
shift $(($# > 0 ? 1 : 0))
stages=" ${*:-tests memcheck bench} "
wants() { [[ "$stages" == *" $1 "* ]]; }
arch=${GRAFT_CUDA_ARCH:-90}
status=0

if compgen -G ".gpu-deps/*.deb" >/dev/null; then
  prefix=/tmp/graft-deps
  mkdir -p "$prefix"
  for deb in .gpu-deps/*.deb; do dpkg -x "$deb" "$prefix"; done
  # Some links are absolute (Debian's libz.so points at /lib/...): point them into the prefix.
  find "$prefix" -type l -lname '/*' | while read -r link; do ln -sfn "$prefix$(readlink "$link")" "$link"; done
  export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
fi

# cuDNN beside the toolkit, or else the one PyTorch's Python brings (the nvidia-cudnn wheel).
if [[ -z "${CUDNN_ROOT:-}" ]] && ! compgen -G "/usr/local/cuda/lib64/libcudnn.so*" >/dev/null; then
  wheel=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)
  if [[ -n "$wheel" ]]; then
    export CUDNN_ROOT="$wheel"
    export LD_LIBRARY_PATH="$wheel/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
# The PyTorch oracle (a torchvision checkpoint predicted on the GPU) needs torch and torchvision;
# on GPU machines they are often in the first python3 on PATH rather than Debian's.
if [[ -z "${GRAFT_TORCH_PYTHON:-}" ]] && ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  python=$(command -v python3)
  if [[ -n "$python" ]] && "$python" -c 'import torch, torchvision' 2>/dev/null; then export GRAFT_TORCH_PYTHON="$python"; fi
fi

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
short=$(echo "$gpu" | tr 'A-Z' 'a-z' | grep -oE '[a-z][0-9]{2,4}' | head -n 1)
report="$results/${short:-gpu}.md"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")

start=$SECONDS
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGRAFT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  >"$results/build.log" 2>&1 && cmake --build build-gpu -j "$(nproc)" >>"$results/build.log" 2>&1
if [[ $? -ne 0 ]]; then
  tail -n 40 "$results/build.log"
  echo "gpu_bench: the build failed; see $results/build.log"
  exit 1
fi
build_seconds=$((SECONDS - start))

{
  echo "# graft on $gpu"
  echo
  echo "$(date -u +%Y-%m-%d), commit $commit, sm_$arch build in ${build_seconds} s. Produced by scripts/gpu_bench.sh."
  echo
} >"$report"

# Every test that touches the GPU: the kernels, the allocator, the ops and training on the GPU.
filter='Cuda*:*/Cuda*:CachingAllocator*:KernelChoice*'
if wants tests; then
  build-gpu/tests/graft_tests --gtest_filter="$filter" >"$results/gpu_tests.log" 2>&1 || status=1
  tests_summary=$(grep -E '^\[  (PASSED|FAILED)  \] [0-9]|^\[  SKIPPED \] [0-9]' "$results/gpu_tests.log" | tr '\n' ' ')
  echo "- CUDA tests (\`$filter\`): $tests_summary" >>"$report"
fi

# memcheck multiplies run times tens of times: by default it checks the kernel and op tests, not
# the whole networks (which run the same kernels, longer), for at most 200 s. GRAFT_MEMCHECK_FILTER
# and GRAFT_MEMCHECK_SECONDS widen it, e.g. to "$filter" in a call of its own.
if wants memcheck; then
  memcheck_filter=${GRAFT_MEMCHECK_FILTER:-"$filter:-CudaResNet*:*/CudaResNet*:CudaTraining*"}
  memcheck_seconds=${GRAFT_MEMCHECK_SECONDS:-200}
  # Every tensor in its own cudaMalloc, so that an access past its end is outside any allocation;
  # the out-of-memory test fails a cudaMalloc on purpose, which is not an error here.
  GRAFT_CUDA_NO_CACHING=1 timeout "$memcheck_seconds" compute-sanitizer --tool memcheck --error-exitcode 86 \
    --report-api-errors no --print-limit 20 build-gpu/tests/graft_tests --gtest_filter="$memcheck_filter" >"$results/memcheck.log" 2>&1
  memcheck_status=$?
  case $memcheck_status in
    0) memcheck="clean" ;;
    124) memcheck="stopped after $memcheck_seconds s (no error reported until then)" ;;
    86) memcheck="ERRORS (see memcheck.log)"; status=1 ;;
    *) memcheck="tests failed under the sanitizer (exit $memcheck_status; see memcheck.log)"; status=1 ;;
  esac
  echo "- compute-sanitizer memcheck (\`$memcheck_filter\`): $memcheck" >>"$report"
fi
echo >>"$report"

: >"$results/bench.log"
for bench in build-gpu/bench/bench_cuda_*; do
  [[ -x "$bench" ]] || continue
  name=$(basename "$bench")
  wants bench || wants "$name" || continue
  echo "===== $name" >>"$results/bench.log"
  timeout 150 "$bench" >"$results/$name.out" 2>&1 || echo "- $name did not finish cleanly (see bench.log)" >>"$report"
  cat "$results/$name.out" >>"$results/bench.log"
  # Each benchmark ends with its markdown tables, each starting with a '### ' heading.
  sed -n '/^### /,$p' "$results/$name.out" >>"$report"
  rm "$results/$name.out"
  echo >>"$report"
done

cat "$report"
echo "gpu_bench: report in $report, logs in $results ($((SECONDS - start)) s in all)"
exit "$status"
