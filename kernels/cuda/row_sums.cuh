#pragma once
// Sums of contiguous runs in double: out[r] = sum of f(x[i]) over run r, x[r * length, (r + 1) *
// length). sum_reduce (inner == 1) and sum_of_squares use it. The plan depends on the shape alone,
// never on the device, and every partial sum is combined in a fixed order, so results are
// bit-identical from run to run and from GPU to GPU:
// - short runs (<= kShortRun): one warp per run;
// - long runs: each run is cut into chunks, one block per chunk; with one chunk per run the block
//   writes the result, otherwise it writes a partial sum to scratch memory and a second kernel adds
//   each run's partials in order. Runs are split until there are about kTargetBlocks blocks, with
//   at least kMinChunk elements per chunk.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/pack.cuh"

namespace graft::kernels::cuda {

struct AsDouble {
  template <typename T>
  __device__ double operator()(T x) const {
    return double(x);
  }
};

struct SquareAsDouble {
  template <typename T>
  __device__ double operator()(T x) const {
    const double d = x;
    return d * d;
  }
};

constexpr int64_t kShortRun = 512;
// About four waves of 256-thread blocks on a 132-multiprocessor H100 (8 resident blocks each).
constexpr int64_t kTargetBlocks = 4096;
constexpr int64_t kMinChunk = 16384;

template <typename T, typename Out, typename Transform>
__global__ void short_run_sums_kernel(const T* x, int64_t runs, int64_t length, Transform f, Out* out) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps_per_block = blockDim.x / kWarpSize;
  for (int64_t r = blockIdx.x * warps_per_block + threadIdx.x / kWarpSize; r < runs; r += gridDim.x * warps_per_block) {
    const T* run = x + r * length;
    double sum = 0;
    for (int64_t i = lane; i < length; i += kWarpSize) sum += f(run[i]);
    sum = warp_reduce(sum, Plus{});
    if (lane == 0) out[r] = Out(sum);
  }
}

// Block w (of runs * chunks) sums chunk w % chunks of run w / chunks. When x is 16-byte aligned
// the chunk's aligned middle is read in packs, its unaligned ends one element at a time.
template <typename T, typename Out, typename Transform>
__global__ void chunk_sums_kernel(const T* x, bool x_aligned, int64_t runs, int64_t length, int64_t chunks,
                                  int64_t chunk_length, Transform f, double* partial, Out* out) {
  constexpr int64_t V = kPackSize<T>;
  __shared__ double scratch[kWarpSize];
  for (int64_t w = blockIdx.x; w < runs * chunks; w += gridDim.x) {
    const int64_t r = w / chunks, c = w % chunks;
    const int64_t begin = r * length + c * chunk_length;
    const int64_t end = r * length + min_index(length, (c + 1) * chunk_length);
    int64_t body_begin = end, body_end = end;  // [body_begin, body_end) is read in packs
    if (x_aligned) {
      body_begin = min_index(end, (begin + V - 1) / V * V);
      body_end = body_begin + (end - body_begin) / V * V;
    }
    double sum = 0;
    for (int64_t i = begin + threadIdx.x; i < body_begin; i += blockDim.x) sum += f(x[i]);
#pragma unroll 4
    for (int64_t p = body_begin / V + threadIdx.x; p < body_end / V; p += blockDim.x) {
      const Pack<T> pack = load_pack(x, p);
#pragma unroll
      for (int k = 0; k < V; ++k) sum += f(pack.v[k]);
    }
    for (int64_t i = body_end + threadIdx.x; i < end; i += blockDim.x) sum += f(x[i]);
    sum = block_allreduce(sum, Plus{}, scratch);
    if (threadIdx.x == 0) {
      if (chunks == 1) {
        out[r] = Out(sum);
      } else {
        partial[w] = sum;
      }
    }
  }
}

// out[r] = the sum of partial[r * chunks, (r + 1) * chunks): one warp per run.
template <typename Out>
__global__ void finish_chunk_sums_kernel(const double* partial, int64_t runs, int64_t chunks, Out* out) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps_per_block = blockDim.x / kWarpSize;
  for (int64_t r = blockIdx.x * warps_per_block + threadIdx.x / kWarpSize; r < runs; r += gridDim.x * warps_per_block) {
    double sum = 0;
    for (int64_t c = lane; c < chunks; c += kWarpSize) sum += partial[r * chunks + c];
    sum = warp_reduce(sum, Plus{});
    if (lane == 0) out[r] = Out(sum);
  }
}

// Queues the sums of `runs` runs of `length` >= 1 elements on the stream; `kernel` names the caller
// in errors.
template <typename T, typename Out, typename Transform>
void launch_run_sums(const T* x, int64_t runs, int64_t length, Transform f, Out* out, cudaStream_t stream,
                     const char* kernel) {
  if (runs == 0) return;
  constexpr int64_t kWarpsPerBlock = kBlockThreads / kWarpSize;
  if (length <= kShortRun) {
    short_run_sums_kernel<<<blocks_for((runs + kWarpsPerBlock - 1) / kWarpsPerBlock), kBlockThreads, 0, stream>>>(
        x, runs, length, f, out);
    check_launch(kernel);
    return;
  }
  int64_t chunks = 1;
  if (runs < kTargetBlocks) chunks = std::min((kTargetBlocks + runs - 1) / runs, (length + kMinChunk - 1) / kMinChunk);
  // A multiple of the pack size, so chunks of an aligned run start aligned.
  const int64_t V = kPackSize<T>;
  const int64_t chunk_length = ((length + chunks - 1) / chunks + V - 1) / V * V;
  chunks = (length + chunk_length - 1) / chunk_length;
  if (chunks == 1) {
    chunk_sums_kernel<<<blocks_for(runs), kBlockThreads, 0, stream>>>(x, is_aligned_16(x), runs, length, 1,
                                                                      chunk_length, f, nullptr, out);
    check_launch(kernel);
    return;
  }
  StreamScratch partial(size_t(runs * chunks) * sizeof(double), stream, kernel);
  chunk_sums_kernel<<<blocks_for(runs * chunks), kBlockThreads, 0, stream>>>(
      x, is_aligned_16(x), runs, length, chunks, chunk_length, f, partial.as<double>(), out);
  check_launch(kernel);
  finish_chunk_sums_kernel<<<blocks_for((runs + kWarpsPerBlock - 1) / kWarpsPerBlock), kBlockThreads, 0, stream>>>(
      partial.as<double>(), runs, chunks, out);
  check_launch(kernel);
}

}  // namespace graft::kernels::cuda
