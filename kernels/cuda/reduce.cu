// sum_reduce on the GPU over [outer, reduce, inner], in double, deterministic. The plan depends on
// the shape only:
// - inner == 1: sums of contiguous runs (kernels/cuda/row_sums.cuh: a warp per short run, blocks
//   over chunks of long runs with a second pass over the chunks' partial sums);
// - many output columns (outer * inner >= kThreadPerColumnMin): one thread per output column,
//   looping over the reduced axis; neighbouring threads read neighbouring addresses;
// - few output columns: tiles of 32 columns by kRowLanes interleaved rows per block (a warp reads
//   32 neighbouring columns of one row), with the reduced axis split across blocks until there are
//   about kTargetBlocks of them; the splits' partial sums go to scratch memory and a second kernel
//   adds them in order.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/row_sums.cuh"
#include "kernels/reduce.h"

namespace graft::kernels::cuda {
namespace {

constexpr int kColumnTile = 32;
constexpr int kRowLanes = kBlockThreads / kColumnTile;
constexpr int64_t kThreadPerColumnMin = kTargetBlocks * kBlockThreads;
// Rows per split at least: each thread of a tile then adds at least 8 of them.
constexpr int64_t kMinRowsPerSplit = 8 * kRowLanes;

// out[j] for j = o * inner + i, each thread summing its column over r in order.
template <typename T>
__global__ void column_per_thread_kernel(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out) {
  const int64_t columns = outer * inner;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < columns; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = j / inner, i = j % inner;
    const T* column = x + o * reduce * inner + i;
    double sum = 0;
#pragma unroll 4
    for (int64_t r = 0; r < reduce; ++r) sum += double(column[r * inner]);
    out[j] = T(sum);
  }
}

// Block w sums split w % splits (rows [s * rows_per_split, +rows_per_split)) of the 32-column tile
// w / splits. Thread (x, y) adds rows y, y + kRowLanes, ... of column x; the kRowLanes sums of a
// column are then added in order of y.
template <typename T>
__global__ void column_tile_kernel(const T* x, int64_t outer, int64_t reduce, int64_t inner, int64_t column_tiles,
                                   int64_t splits, int64_t rows_per_split, double* partial, T* out) {
  __shared__ double sums[kRowLanes][kColumnTile];
  const int64_t items = outer * column_tiles * splits;
  for (int64_t w = blockIdx.x; w < items; w += gridDim.x) {
    const int64_t s = w % splits, tile = w / splits;
    const int64_t o = tile / column_tiles;
    const int64_t i = tile % column_tiles * kColumnTile + threadIdx.x;
    const int64_t r_end = min_index(reduce, (s + 1) * rows_per_split);
    double sum = 0;
    if (i < inner) {
      const T* column = x + o * reduce * inner + i;
#pragma unroll 4
      for (int64_t r = s * rows_per_split + threadIdx.y; r < r_end; r += kRowLanes) sum += double(column[r * inner]);
    }
    __syncthreads();  // the previous item's readers are done with `sums`
    sums[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && i < inner) {
      double total = sums[0][threadIdx.x];
      for (int y = 1; y < kRowLanes; ++y) total += sums[y][threadIdx.x];
      const int64_t j = o * inner + i;
      if (splits == 1) {
        out[j] = T(total);
      } else {
        partial[s * outer * inner + j] = total;
      }
    }
  }
}

// out[j] = the sum over s, in order, of partial[s * columns + j].
template <typename T>
__global__ void finish_splits_kernel(const double* partial, int64_t columns, int64_t splits, T* out) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < columns; j += int64_t(gridDim.x) * blockDim.x) {
    double sum = 0;
    for (int64_t s = 0; s < splits; ++s) sum += partial[s * columns + j];
    out[j] = T(sum);
  }
}

template <typename T>
void sum_columns(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out, cudaStream_t stream) {
  constexpr const char* kName = "graft::kernels::cuda::sum_reduce";
  const int64_t columns = outer * inner;
  if (columns >= kThreadPerColumnMin) {
    column_per_thread_kernel<<<blocks_for((columns + kBlockThreads - 1) / kBlockThreads), kBlockThreads, 0, stream>>>(
        x, outer, reduce, inner, out);
    check_launch(kName);
    return;
  }
  const int64_t column_tiles = (inner + kColumnTile - 1) / kColumnTile;
  const int64_t tiles = outer * column_tiles;
  int64_t splits = 1;
  if (tiles < kTargetBlocks)
    splits = std::min((kTargetBlocks + tiles - 1) / tiles, (reduce + kMinRowsPerSplit - 1) / kMinRowsPerSplit);
  const int64_t rows_per_split = (reduce + splits - 1) / splits;
  splits = (reduce + rows_per_split - 1) / rows_per_split;
  const dim3 block(kColumnTile, kRowLanes);
  if (splits == 1) {
    column_tile_kernel<<<blocks_for(tiles), block, 0, stream>>>(x, outer, reduce, inner, column_tiles, 1,
                                                                rows_per_split, nullptr, out);
    check_launch(kName);
    return;
  }
  StreamScratch partial(size_t(splits * columns) * sizeof(double), stream, kName);
  column_tile_kernel<<<blocks_for(tiles * splits), block, 0, stream>>>(x, outer, reduce, inner, column_tiles, splits,
                                                                       rows_per_split, partial.as<double>(), out);
  check_launch(kName);
  finish_splits_kernel<<<blocks_for((columns + kBlockThreads - 1) / kBlockThreads), kBlockThreads, 0, stream>>>(
      partial.as<double>(), columns, splits, out);
  check_launch(kName);
}

}  // namespace

template <typename T>
void sum_reduce(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::sum_reduce";
  check_sizes_not_negative(kName, {outer, reduce, inner});
  if (outer == 0 || inner == 0) return;
  check_not_null(kName, {out});
  if (reduce > 0) check_not_null(kName, {x});
  if (reduce == 0) {
    // All-zero bytes are +0.0 in IEEE 754.
    check_call(cudaMemsetAsync(out, 0, size_t(outer * inner) * sizeof(T), stream), kName, "cudaMemsetAsync");
  } else if (inner == 1) {
    launch_run_sums(x, outer, reduce, AsDouble{}, out, stream, kName);
  } else {
    sum_columns(x, outer, reduce, inner, out, stream);
  }
}

template void sum_reduce<float>(const float*, int64_t, int64_t, int64_t, float*, Stream);
template void sum_reduce<double>(const double*, int64_t, int64_t, int64_t, double*, Stream);

}  // namespace graft::kernels::cuda
