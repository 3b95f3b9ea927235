#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, in one go and within one time budget:
#   1. runs the executables that scripts/gpu_bundle.sh built elsewhere (.gpu-bundle/), or else builds
#      graft with CUDA into build-gpu/ on every core (for sm_90 by default),
#   2. runs every CUDA test, then the kernel and op tests under compute-sanitizer memcheck,
#   3. runs the GPU benchmarks (bench_cuda_*), which validate before they time,
# and writes one markdown report, <results>/<gpu>.md (e.g. bench/results/h100.md), with the logs
# beside it (build.log, gpu_tests.log, memcheck.log, bench.log).
# Usage: scripts/gpu_bench.sh [RESULTS_DIR [STAGE...]]   (default bench/results, every stage)
# Stages: tests, memcheck, bench (every benchmark) or one benchmark's name (bench_cuda_gemm, ...).
# GRAFT_GPU_SECONDS (default 540) bounds the whole run: each stage gets its own limit or what is left
# of the budget, whichever is less, so the report is written before a caller's time limit strikes.
# A build from source is incremental, so stages can also be spread over several calls.
# Packages from scripts/fetch_gpu_deps.sh in .gpu-deps/ are unpacked into a private prefix first,
# for machines without a package registry. Exits non-zero when a test or the sanitizer failed.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(realpath -m "${1:-bench/results}")
mkdir -p "$results"
shift $(($# > 0 ? 1 : 0))
stages=" ${*:-tests memcheck bench} "
wants() { [[ "$stages" == *" $1 "* ]]; }
budget=${GRAFT_GPU_SECONDS:-540}
# A stage's time limit: its own cap, or what is left of the budget less a few seconds for the report.
limit() { local left=$((budget - SECONDS - 10)); echo $((left < $1 ? (left > 0 ? left : 1) : $1)); }
status=0

# cuDNN beside the toolkit, or else the one PyTorch's Python brings (the nvidia-cudnn wheel).
if [[ -z "${CUDNN_ROOT:-}" ]] && ! compgen -G "/usr/local/cuda/lib64/libcudnn.so*" >/dev/null; then
  wheel=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)
  if [[ -n "$wheel" ]]; then
    export CUDNN_ROOT="$wheel"
    export LD_LIBRARY_PATH="$wheel/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
# The PyTorch oracle (a torchvision checkpoint predicted on the GPU) and PyTorch's training step
# need torch and torchvision, the latter with CUDA; on GPU machines they are often in the first
# python3 on PATH rather than Debian's (whose torch has no CUDA).
torch_with_cuda='import torch, torchvision; assert torch.cuda.is_available()'
if [[ -z "${GRAFT_TORCH_PYTHON:-}" ]] && ! /usr/bin/python3 -c "$torch_with_cuda" 2>/dev/null; then
  python=$(command -v python3)
  if [[ -n "$python" ]] && "$python" -c "$torch_with_cuda" 2>/dev/null; then export GRAFT_TORCH_PYTHON="$python"; fi
fi

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
short=$(echo "$gpu" | tr 'A-Z' 'a-z' | grep -oE '[a-z][0-9]{2,4}' | head -n 1)
report="$results/${short:-gpu}.md"

if [[ -f .gpu-bundle/origin && -z "${GRAFT_GPU_BUILD:-}" ]]; then
  # Prebuilt: the test binary looks for the sources, and for the graft binary in the build folder,
  # where they were built; those paths are made to lead to this checkout and to the bundle.
  bin=.gpu-bundle
  origin() { sed -n "s/^$1=//p" "$bin/origin"; }
  source_dir=$(origin source_dir)
  if [[ ! -e "$source_dir" ]]; then
    mkdir -p "$(dirname "$source_dir")" && ln -s "$PWD" "$source_dir"
  elif [[ "$(realpath "$source_dir")" != "$PWD" ]]; then
    echo "gpu_bench: the bundle was built in $source_dir, which exists here and is not this checkout;"
    echo "rebuild the bundle from another folder, or build here with GRAFT_GPU_BUILD=1"
    exit 1
  fi
  build_dir=$(origin build_dir)
  [[ -e "$build_dir" ]] || ln -s "$PWD/$bin" "$build_dir"
  # Only the libraries the loader does not find are lent: from the bundle, or CUDA's and cuDNN's
  # from the toolkit's folders or the nvidia-* wheels PyTorch brings. The machine's own stay in charge.
  roots=("$PWD/$bin/lib" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib)
  roots+=($(python3 -c 'import nvidia; print(" ".join(nvidia.__path__))' 2>/dev/null))
  mkdir -p /tmp/graft-libs
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/tmp/graft-libs"
  for lib in $(ldd "$bin/graft" "$bin/tests/graft_tests" "$bin"/bench/bench_cuda_* | awk '/not found/ {print $1}' | sort -u); do
    found=$(find "${roots[@]}" -name "$lib" 2>/dev/null | head -n 1)
    if [[ -z "$found" ]]; then
      echo "gpu_bench: this machine lacks $lib (looked in ${roots[*]}); build here with GRAFT_GPU_BUILD=1"
      exit 1
    fi
    ln -sfn "$found" "/tmp/graft-libs/$lib"
  done
  built="prebuilt by scripts/gpu_bundle.sh ($(origin arch), commit $(origin commit), $(origin built))"
  ldd "$bin/tests/graft_tests" >"$results/build.log" 2>&1
  commit=$(origin commit)
else
  if compgen -G ".gpu-deps/*.deb" >/dev/null; then
    prefix=/tmp/graft-deps
    mkdir -p "$prefix"
    for deb in .gpu-deps/*.deb; do dpkg -x "$deb" "$prefix"; done
    # Some links are absolute (Debian's libz.so points at /lib/...): point them into the prefix.
    find "$prefix" -type l -lname '/*' | while read -r link; do ln -sfn "$prefix$(readlink "$link")" "$link"; done
    export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  fi
  bin=build-gpu
  arch=${GRAFT_CUDA_ARCH:-90}
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGRAFT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
    >"$results/build.log" 2>&1 && cmake --build build-gpu -j "$(nproc)" >>"$results/build.log" 2>&1
  if [[ $? -ne 0 ]]; then
    tail -n 40 "$results/build.log"
    echo "gpu_bench: the build failed; see $results/build.log"
    exit 1
  fi
  built="sm_$arch build in ${SECONDS} s"
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")
fi

{
  echo "# graft on $gpu"
  echo
  echo "$(date -u +%Y-%m-%d), commit $commit, $built. Produced by scripts/gpu_bench.sh."
  echo
} >"$report"

# Every test that touches the GPU: the kernels, the allocator, the ops and training on the GPU.
filter='Cuda*:*/Cuda*:CachingAllocator*:KernelChoice*'
if wants tests; then
  seconds=$(limit 240)
  timeout "$seconds" "$bin/tests/graft_tests" --gtest_filter="$filter" >"$results/gpu_tests.log" 2>&1
  case $? in
    0) ;;
    124) status=1; echo "- CUDA tests stopped after $seconds s (see gpu_tests.log)" >>"$report" ;;
    *) status=1 ;;
  esac
  tests_summary=$(grep -E '^\[  (PASSED|FAILED)  \] [0-9]|^\[  SKIPPED \] [0-9]' "$results/gpu_tests.log" | tr '\n' ' ')
  echo "- CUDA tests (\`$filter\`): $tests_summary" >>"$report"
  grep -E '^\[  FAILED  \] [A-Za-z]' "$results/gpu_tests.log" | sort -u | sed 's/^/  - /' >>"$report"
fi

# memcheck multiplies run times tens of times: by default it checks the kernel and op tests, not
# the whole networks and the command-line runs (which run the same kernels, longer), for at most
# 150 s. GRAFT_MEMCHECK_FILTER and GRAFT_MEMCHECK_SECONDS widen it, e.g. to "$filter" in a call of
# its own.
if wants memcheck; then
  memcheck_filter=${GRAFT_MEMCHECK_FILTER:-"$filter:-CudaResNet*:*/CudaResNet*:CudaTraining*:CudaCli*"}
  memcheck_seconds=$(limit "${GRAFT_MEMCHECK_SECONDS:-150}")
  # Every tensor in its own cudaMalloc, so that an access past its end is outside any allocation;
  # the out-of-memory test fails a cudaMalloc on purpose, which is not an error here.
  GRAFT_CUDA_NO_CACHING=1 timeout "$memcheck_seconds" compute-sanitizer --tool memcheck --error-exitcode 86 \
    --report-api-errors no --print-limit 20 "$bin/tests/graft_tests" --gtest_filter="$memcheck_filter" >"$results/memcheck.log" 2>&1
  memcheck_status=$?
  case $memcheck_status in
    0) memcheck="clean" ;;
    124) memcheck="stopped after $memcheck_seconds s (no error reported until then; last test started: $(grep -E '^\[ RUN' "$results/memcheck.log" | tail -n 1 | cut -c14-))" ;;
    86) memcheck="ERRORS (see memcheck.log)"; status=1 ;;
    *) memcheck="tests failed under the sanitizer (exit $memcheck_status; see memcheck.log)"; status=1 ;;
  esac
  echo "- compute-sanitizer memcheck (\`$memcheck_filter\`): $memcheck" >>"$report"
fi
echo >>"$report"

# The benchmarks in the order of what their numbers decide, each with its own cap in seconds.
: >"$results/bench.log"
for entry in bench_cuda_gemm:90 bench_cuda_conv2d:120 bench_cuda_train_step:120 bench_cuda_norm_pool:60 bench_cuda_light:60; do
  name=${entry%:*}
  bench=$bin/bench/$name
  [[ -x "$bench" ]] || continue
  wants bench || wants "$name" || continue
  seconds=$(limit "${entry#*:}")
  echo "===== $name (at most $seconds s)" >>"$results/bench.log"
  timeout "$seconds" "$bench" >"$results/$name.out" 2>&1
  case $? in
    0) ;;
    124) echo "- $name stopped at its limit of $seconds s: its tables are missing (see bench.log)" >>"$report" ;;
    *) echo "- $name failed: $(tail -n 1 "$results/$name.out")" >>"$report" ;;
  esac
  cat "$results/$name.out" >>"$results/bench.log"
  # Each benchmark ends with its markdown tables, each starting with a '### ' heading.
  sed -n '/^### /,$p' "$results/$name.out" >>"$report"
  rm "$results/$name.out"
  echo >>"$report"
done

cat "$report"
echo "gpu_bench: report in $report, logs in $results ($SECONDS s in all)"
exit "$status"
