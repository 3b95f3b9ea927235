#!/usr/bin/env bash
# Builds, on a machine with the CUDA toolkit but no GPU, everything scripts/gpu_bench.sh runs on a GPU
# machine, and packs it into .gpu-bundle/ (git-ignored, about 40 MB), so that the GPU machine's time
# goes to tests and benchmarks rather than to compiling:
#   .gpu-bundle/graft, tests/graft_tests, bench/bench_cuda_*   stripped executables (sm_90 by default)
#   .gpu-bundle/lib/                                          shared libraries a bare CUDA image may lack
#   .gpu-bundle/origin                                        where they were built (see below)
# Send .gpu-bundle with the tree to the GPU machine; gpu_bench.sh finds it there and skips its build.
# The test binary has the source and build folders compiled in (the oracle scripts, the graft binary
# it runs): `origin` records them, and gpu_bench.sh makes those paths lead to the copy it runs in.
# Usage: scripts/gpu_bundle.sh   (GRAFT_CUDA_ARCH=90 picks the architecture, GRAFT_BUILD_JOBS the jobs)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${GRAFT_CUDA_ARCH:-90}
build=build-bundle
bundle=.gpu-bundle
max_bytes=$((56 * 1024 * 1024))  # the GPU machine takes 64 MiB of tree and carried files in all

# -march=native would tie the CPU code to this machine's processor; the AVX2 kernels are chosen at
# run time either way.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGRAFT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DGRAFT_NATIVE=OFF >/dev/null
benches=(bench_cuda_conv2d bench_cuda_gemm bench_cuda_light bench_cuda_norm_pool bench_cuda_train_step)
cmake --build "$build" -j "${GRAFT_BUILD_JOBS:-$(nproc)}" --target graft graft_tests "${benches[@]}"

rm -rf "$bundle"
mkdir -p "$bundle/tests" "$bundle/bench" "$bundle/lib"
strip -o "$bundle/graft" "$build/graft"
strip -o "$bundle/tests/graft_tests" "$build/tests/graft_tests"
for b in "${benches[@]}"; do strip -o "$bundle/bench/$b" "$build/bench/$b"; done

# Libraries from this system's packages that a CUDA image need not have. The C and C++ runtimes,
# CUDA's and cuDNN's libraries stay out: the GPU machine brings its own (newer) ones.
ldd "$build/tests/graft_tests" "$build/bench/bench_cuda_gemm" |
  awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
  grep -E '/lib(stb|benchmark|gomp|z)\.so' | while read -r lib; do cp -L "$lib" "$bundle/lib/"; done

{
  echo "source_dir=$PWD"
  echo "build_dir=$PWD/$build"
  echo "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' || echo '+changes')"
  echo "arch=sm_$arch"
  echo "built=$(date -u +%Y-%m-%dT%H:%MZ)"
} >"$bundle/origin"

bytes=$(du -sb "$bundle" | cut -f1)
if ((bytes > max_bytes)); then
  echo "gpu_bundle: $bundle is $((bytes / 1048576)) MiB, over the $((max_bytes / 1048576)) MiB that may travel" >&2
  exit 1
fi
echo "gpu_bundle: $bundle ready ($((bytes / 1048576)) MiB, $(grep commit= "$bundle/origin"))"
