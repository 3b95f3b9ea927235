#pragma once
// What the three implicit-GEMM convolution kernels share (kernels/cuda/conv2d_*.cu): the block and
// thread tiling of the product C[M][N] = A[M][K] * B[K][N], the shared-memory multiply of one
// depth slice, where each column of C goes in the destination tensor, and the split of the depth
// across blocks with a deterministic second pass.
//
// Tiling, the same as the SGEMM of kernels/cuda/gemm.cu: a block computes kBlockM x 128 of C
// (kBlockM = 128 with 256 threads, or 64 with 128 threads when M <= 64), stepping through the
// depth in slices of 8. A slice of A and one of B sit in shared memory depth-major, [8][tile + 4],
// so that a thread reads 4 consecutive rows (columns) at one depth with one 16-byte load; the
// 4-float pad spreads the loaders' stores over the banks. Warps own 64 x 32 of the tile, laid out
// as an 8 x 4 grid of threads that each hold an 8 x 8 register tile made of 2 x 2 sub-tiles of
// 4 x 4, 32 rows and 16 columns apart. The kernels differ only in how they fetch A and B from the
// tensors (the implicit part) and where they write C.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/fast_divmod.cuh"
#include "kernels/stream.h"

namespace graft::kernels::cuda::conv2d_tile {

constexpr int kDepth = 8;      // depth of a shared-memory slice
constexpr int kBlockN = 128;   // columns of C per block
constexpr int kWarpRows = 64;  // rows of C per warp
constexpr int kWarpCols = 32;  // columns of C per warp
constexpr int kStrideB = kBlockN + 4;

template <int kBlockM>
struct Shape {
  static_assert(kBlockM == 64 || kBlockM == 128, "block tiles are 64 or 128 rows high");
  static constexpr int kWarpsN = kBlockN / kWarpCols;
  static constexpr int kThreads = 32 * (kBlockM / kWarpRows) * kWarpsN;  // 128 or 256
  static constexpr int kStrideA = kBlockM + 4;
  // Blocks per SM that the launch bounds promise (128 registers a thread at most).
  static constexpr int kBlocksPerSm = 512 / kThreads;
};

// This thread's 8 x 8 register tile: rows row_base + {0..3, 32..35} and columns
// col_base + {0..3, 16..19} of the block tile.
struct ThreadTile {
  int row_base, col_base;
  __device__ int row(int r) const { return row_base + r / 4 * 32 + r % 4; }
  __device__ int col(int s) const { return col_base + s / 4 * 16 + s % 4; }
};

template <int kBlockM>
__device__ inline ThreadTile thread_tile() {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  return {warp / Shape<kBlockM>::kWarpsN * kWarpRows + lane / 4 * 4,
          warp % Shape<kBlockM>::kWarpsN * kWarpCols + lane % 4 * 4};
}

// acc += (slice of A)^T (slice of B) for one shared-memory slice of kDepth.
template <int kBlockM>
__device__ inline void multiply_slice(const float* as, const float* bs, ThreadTile t, float (&acc)[8][8]) {
  constexpr int kStrideA = Shape<kBlockM>::kStrideA;
#pragma unroll
  for (int d = 0; d < kDepth; ++d) {
    float a[8], b[8];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float4 av = *reinterpret_cast<const float4*>(&as[d * kStrideA + t.row_base + half * 32]);
      const float4 bv = *reinterpret_cast<const float4*>(&bs[d * kStrideB + t.col_base + half * 16]);
      a[half * 4 + 0] = av.x, a[half * 4 + 1] = av.y, a[half * 4 + 2] = av.z, a[half * 4 + 3] = av.w;
      b[half * 4 + 0] = bv.x, b[half * 4 + 1] = bv.y, b[half * 4 + 2] = bv.z, b[half * 4 + 3] = bv.w;
    }
#pragma unroll
    for (int r = 0; r < 8; ++r)
#pragma unroll
      for (int s = 0; s < 8; ++s) acc[r][s] = fmaf(a[r], b[s], acc[r][s]);
  }
}

// The double-buffered main loop: while the block multiplies slice t from one shared buffer, every
// thread holds slice t+1 in registers (loaded before the arithmetic, so that the latency hides
// behind it) and stores it into the other buffer afterwards; one __syncthreads a slice. The loader
// provides load(params) (its share of the next slices of A and B into registers) and
// store(a_slice, b_slice); the kernel's parameters are handed down rather than kept, which keeps
// registers for the accumulators.
template <int kBlockM, class Params, class Loader>
__device__ inline void accumulate(const Params& p, Loader& loader, int64_t slices,
                                  float (*a_slices)[kDepth * Shape<kBlockM>::kStrideA],
                                  float (*b_slices)[kDepth * kStrideB], ThreadTile t, float (&acc)[8][8]) {
  if (slices <= 0) return;
  loader.load(p);
  loader.store(a_slices[0], b_slices[0]);
  __syncthreads();
  int buffer = 0;
  for (int64_t next = 1;; ++next) {
    const bool more = next < slices;  // the same for every thread of the block
    if (more) loader.load(p);
    multiply_slice<kBlockM>(a_slices[buffer], b_slices[buffer], t, acc);
    if (!more) break;
    // The other buffer was last read in the previous iteration, which every thread finished
    // before the __syncthreads that ended it.
    buffer ^= 1;
    loader.store(a_slices[buffer], b_slices[buffer]);
    __syncthreads();
  }
}

// Where column j of C (and a row, a group) lands in the destination tensor. Column j is the pixel
// (image, y, x) of a grid of grid_plane = rows x grid_w pixels; its element of row `row` in group
// `group` sits at
//   dst[group * group_stride + row * channel_stride + image * image_stride
//       + (y * step_h + base_h) * pitch + x * step_w + base_w]
// (the steps and bases place the pixels of one stride phase of dx; 1 and 0 everywhere else).
// bias, when not null, holds one value per row and group (index group * rows + row).
struct OutputMap {
  float* dst;
  const float* bias;
  int64_t group_stride, channel_stride, image_stride, pitch;
  FastDivmod grid_plane, grid_w;
  int step_h, step_w, base_h, base_w;

  __device__ int64_t column_offset(uint32_t j) const {
    const uint32_t image = grid_plane.divide(j), in_plane = j - image * grid_plane.divisor();
    const uint32_t y = grid_w.divide(in_plane), x = in_plane - y * grid_w.divisor();
    return int64_t(image) * image_stride + (int64_t(y) * step_h + base_h) * pitch + int64_t(x) * step_w + base_w;
  }
};

// How the depth K of a product is cut across blocks (gridDim.y): split s covers depths
// [s * depth_per_split, min(K, (s + 1) * depth_per_split)), depth_per_split a multiple of kDepth,
// so that only the last split ends in a partial slice.
struct Split {
  int64_t count = 1, depth_per_split = 0;
};

// Splits that bring `tiles` blocks of `threads_per_block` threads close to one full wave of
// resident blocks on the current GPU, each split at least min_depth deep; one split when the
// tiles fill the GPU already.
Split plan_split(int64_t tiles, int64_t depth, int threads_per_block, int64_t min_depth);

// dst(group, row, column j) = bias + sum over s of partial[((group * splits + s) * rows + row) * columns + j],
// the splits added in order (bit-identical results whatever the timing). `groups` <= 65535.
void reduce_splits(const float* partial, int64_t splits, int64_t groups, int64_t rows, int64_t columns,
                   const OutputMap& out, Stream stream, const char* who);

// Throws std::runtime_error naming `who` when the launch just made failed.
void check_launch(const char* who);

}  // namespace graft::kernels::cuda::conv2d_tile
