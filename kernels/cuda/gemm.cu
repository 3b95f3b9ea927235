// FP32 SGEMM on the CUDA cores: C = alpha * op(A) * op(B) + beta * C over row-major buffers, the
// same meaning as cpu::gemm (kernels/gemm.h). One kernel, instantiated per transposition, per
// block height and with or without 16-byte loads; the batched variant runs one batch entry per
// gridDim.z index.
//
// Tiling, from the grid down to a thread:
//  - Block tile 128 x 128 of C (64 x 128 when m <= 64, so that the GEMMs of layers with 64 output
//    channels keep every thread busy), stepping through the depth in slices of 8. A slice of A
//    and one of B sit in shared memory depth-major, [8][tile + 4]: a thread then reads 4
//    consecutive rows of A (or columns of B) at one depth with a single 16-byte load. The 4-float
//    pad keeps rows 16-byte aligned and spreads the transposing stores that depth-contiguous
//    operands (A, or B when transposed) need over all 32 banks. Slices of 8 rather than 16 keep
//    the staged next slice at 4 to 12 registers a thread, so 64 accumulators, 16 fragment values
//    and the addresses fit the 128 registers that two 256-thread blocks per SM allow.
//  - Double buffering: while the block multiplies slice t from one buffer, every thread holds
//    slice t+1 in registers, loaded from global memory before the arithmetic so that the latency
//    hides behind it, and stores it into the other buffer afterwards; one __syncthreads a slice.
//  - Warp tile 64 x 32 (warps laid out 2 x 4, or 1 x 4): the 32 threads of a warp form an 8 x 4
//    grid, each owning an 8 x 8 register tile made of 2 x 2 sub-tiles of 4 x 4 that lie 32 rows
//    and 16 columns apart. Per depth step a thread loads 4 float4 from shared memory (2 of A, 2 of
//    B) for 64 FMAs, and each of those warp-wide loads touches only 8 or 4 consecutive 16-byte
//    words: no bank conflicts.
//  - Global loads are float4 when A and B start 16-byte aligned and their leading dimensions (and
//    batch strides) are multiples of 4; otherwise the scalar instantiation of the same kernel runs.
//    Elements outside the matrices (edge tiles, the last partial slice) are loaded as zeros, so the
//    arithmetic never branches. C is written with float4 when its alignment allows, else element by
//    element, and only inside the matrix.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/gemm_common.cuh"
#include "kernels/gemm.h"

namespace graft::kernels::cuda {
namespace {

using gemm_common::Problem;

constexpr int kDepth = 8;      // depth of a shared-memory slice
constexpr int kBlockN = 128;   // columns of C per block
constexpr int kWarpRows = 64;  // rows of C per warp
constexpr int kWarpCols = 32;  // columns of C per warp

template <int kBlockM>
struct Shape {
  static constexpr int kWarpsM = kBlockM / kWarpRows, kWarpsN = kBlockN / kWarpCols;
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;  // 256 or 128
};

// Moves a kDepth-deep slice of one operand's tile from global memory to shared memory through
// registers. Element (i, p) has i along the tile's kExtent rows of A (or columns of B) and p along
// the depth; in memory it sits at src[i * ld + p] when kDepthContiguous (A, or B transposed), else
// at src[p * ld + i]. Each thread moves kChunks runs of 4 elements that are contiguous in memory.
// It keeps only what changes or cannot be recomputed cheaply: the leading dimension is read from
// the kernel parameters at each load, which keeps registers for the accumulators.
template <int kExtent, int kThreads, bool kDepthContiguous, bool kVector>
struct SliceLoader {
  static constexpr int kStride = kExtent + 4;  // floats per depth row in shared memory
  static constexpr int kChunks = kExtent * kDepth / 4 / kThreads;
  // Chunk c of a thread covers row i0 + c * kChunkStep (depth-contiguous) or depth
  // p0 + c * kChunkStep (otherwise): consecutive threads read consecutive addresses.
  static constexpr int kChunkStep = kDepthContiguous ? kThreads / (kDepth / 4) : kThreads / (kExtent / 4);
  static_assert(kChunks * kThreads * 4 == kExtent * kDepth, "the threads must cover the slice");
  static_assert(kChunks <= 32, "row_ok holds one bit per chunk");

  const float* next;  // chunk 0 of the next slice to load
  int p0;             // depth of chunk 0 within a slice
  // Depth-contiguous: bit c set when chunk c's row lies inside the matrix. Otherwise: how many of
  // the 4 consecutive rows (columns) of every chunk lie inside the matrix, 0 to 4.
  int inside;
  int store_at;  // where chunk 0 goes in a shared-memory slice
  float4 staged[kChunks];

  // `tile`: element (0, 0) of the block's tile; `extent`: its rows (columns) inside the matrix.
  __device__ SliceLoader(const float* tile, int64_t ld, int extent, int thread) {
    if (kDepthContiguous) {
      const int i0 = thread / (kDepth / 4);
      p0 = thread % (kDepth / 4) * 4;
      next = tile + i0 * ld + p0;
      inside = 0;
#pragma unroll
      for (int c = 0; c < kChunks; ++c) inside |= (i0 + c * kChunkStep < extent ? 1 : 0) << c;
      store_at = p0 * kStride + i0;
    } else {
      const int i0 = thread % (kExtent / 4) * 4;
      p0 = thread / (kExtent / 4);
      next = tile + p0 * ld + i0;
      inside = extent - i0 < 0 ? 0 : (extent - i0 > 4 ? 4 : extent - i0);
      store_at = p0 * kStride + i0;
    }
  }

  // Loads the next slice into registers; `depth` (1..kDepth) of its depths lie inside the matrix.
  __device__ void load(int depth, int64_t ld) {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const float* src = next + c * kChunkStep * ld;
      // Elements 0 .. live-1 of the run lie inside the matrix.
      const int live = kDepthContiguous ? (inside >> c & 1 ? depth - p0 : 0)
                                        : (p0 + c * kChunkStep < depth ? inside : 0);
      if (kVector && live >= 4) {
        staged[c] = __ldg(reinterpret_cast<const float4*>(src));
      } else {
        staged[c].x = live > 0 ? __ldg(src) : 0.0f;
        staged[c].y = live > 1 ? __ldg(src + 1) : 0.0f;
        staged[c].z = live > 2 ? __ldg(src + 2) : 0.0f;
        staged[c].w = live > 3 ? __ldg(src + 3) : 0.0f;
      }
    }
    next += kDepthContiguous ? kDepth : kDepth * ld;
  }

  // Writes the staged slice into `slice`, laid out [kDepth][kStride].
  __device__ void store(float* slice) const {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (kDepthContiguous) {
        float* dst = slice + store_at + c * kChunkStep;
        dst[0 * kStride] = staged[c].x;
        dst[1 * kStride] = staged[c].y;
        dst[2 * kStride] = staged[c].z;
        dst[3 * kStride] = staged[c].w;
      } else {
        *reinterpret_cast<float4*>(slice + store_at + c * kChunkStep * kStride) = staged[c];
      }
    }
  }
};

// One block computes one kBlockM x kBlockN tile of C for batch entry blockIdx.z. `c_vector`: C
// may be written with float4 (16-byte aligned, ldc and stride_c multiples of 4).
template <int kBlockM, bool kTransA, bool kTransB, bool kVector>
__global__ void __launch_bounds__(Shape<kBlockM>::kThreads, 512 / Shape<kBlockM>::kThreads)
    sgemm_kernel(Problem p, bool c_vector) {
  constexpr int kThreads = Shape<kBlockM>::kThreads;
  using LoaderA = SliceLoader<kBlockM, kThreads, !kTransA, kVector>;
  using LoaderB = SliceLoader<kBlockN, kThreads, kTransB, kVector>;
  __shared__ __align__(16) float a_slices[2][kDepth * LoaderA::kStride];
  __shared__ __align__(16) float b_slices[2][kDepth * LoaderB::kStride];

  // The block's tile lives in shared memory and is read again (volatile) for the epilogue: kept in
  // registers through the main loop, its coordinates would push the kernel past the 128
  // registers that two blocks per SM allow, and the compiler would spill.
  __shared__ gemm_common::Tile block_tile;
  if (threadIdx.x == 0) block_tile = gemm_common::grouped_tile();
  __syncthreads();
  const volatile gemm_common::Tile& tile = block_tile;
  const int64_t entry = blockIdx.z;

  // This thread's place: its warp's 64 x 32 tile, and its 8 x 8 register tile inside it, whose
  // rows are a_offset + {0..3, 32..35} and columns b_offset + {0..3, 16..19} of the block tile.
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int a_offset = warp / Shape<kBlockM>::kWarpsN * kWarpRows + lane / 4 * 4;
  const int b_offset = warp % Shape<kBlockM>::kWarpsN * kWarpCols + lane % 4 * 4;

  float acc[8][8];
#pragma unroll
  for (int r = 0; r < 8; ++r)
#pragma unroll
    for (int s = 0; s < 8; ++s) acc[r][s] = 0.0f;

  if (p.k > 0) {
    const int64_t row0 = tile.row * kBlockM, col0 = tile.col * kBlockN;
    const int rows = static_cast<int>(p.m - row0 < kBlockM ? p.m - row0 : kBlockM);
    const int cols = static_cast<int>(p.n - col0 < kBlockN ? p.n - col0 : kBlockN);
    LoaderA a_loader(p.a + entry * p.stride_a + (kTransA ? row0 : row0 * p.lda), p.lda, rows, threadIdx.x);
    LoaderB b_loader(p.b + entry * p.stride_b + (kTransB ? col0 * p.ldb : col0), p.ldb, cols, threadIdx.x);
    const int first_depth = static_cast<int>(p.k < kDepth ? p.k : kDepth);
    a_loader.load(first_depth, p.lda);
    b_loader.load(first_depth, p.ldb);
    a_loader.store(a_slices[0]);
    b_loader.store(b_slices[0]);
    __syncthreads();

    int buffer = 0;
    for (int64_t next_depth = kDepth;; next_depth += kDepth) {
      const bool more = next_depth < p.k;  // the same for every thread of the block
      if (more) {
        const int depth = static_cast<int>(p.k - next_depth < kDepth ? p.k - next_depth : kDepth);
        a_loader.load(depth, p.lda);
        b_loader.load(depth, p.ldb);
      }
      const float* as = a_slices[buffer];
      const float* bs = b_slices[buffer];
#pragma unroll
      for (int d = 0; d < kDepth; ++d) {
        float a_frag[8], b_frag[8];
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const float4 av = *reinterpret_cast<const float4*>(&as[d * LoaderA::kStride + a_offset + half * 32]);
          const float4 bv = *reinterpret_cast<const float4*>(&bs[d * LoaderB::kStride + b_offset + half * 16]);
          a_frag[half * 4 + 0] = av.x, a_frag[half * 4 + 1] = av.y;
          a_frag[half * 4 + 2] = av.z, a_frag[half * 4 + 3] = av.w;
          b_frag[half * 4 + 0] = bv.x, b_frag[half * 4 + 1] = bv.y;
          b_frag[half * 4 + 2] = bv.z, b_frag[half * 4 + 3] = bv.w;
        }
#pragma unroll
        for (int r = 0; r < 8; ++r)
#pragma unroll
          for (int s = 0; s < 8; ++s) acc[r][s] = fmaf(a_frag[r], b_frag[s], acc[r][s]);
      }
      if (!more) break;
      // The other buffer was last read in the previous iteration, which every thread finished
      // before the __syncthreads that ended it.
      buffer ^= 1;
      a_loader.store(a_slices[buffer]);
      b_loader.store(b_slices[buffer]);
      __syncthreads();
    }
  }

  const int64_t row0 = tile.row * kBlockM, col0 = tile.col * kBlockN;
  const int rows = static_cast<int>(p.m - row0 < kBlockM ? p.m - row0 : kBlockM);
  const int cols = static_cast<int>(p.n - col0 < kBlockN ? p.n - col0 : kBlockN);
  float* c = p.c + entry * p.stride_c + row0 * p.ldc + col0;
  const float alpha = p.alpha, beta = p.beta;
#pragma unroll
  for (int r = 0; r < 8; ++r) {
    const int row = a_offset + r / 4 * 32 + r % 4;
    if (row >= rows) continue;
    float* c_row = c + row * p.ldc;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int col = b_offset + half * 16;
      if (c_vector && col + 4 <= cols) {
        float4* dst = reinterpret_cast<float4*>(c_row + col);
        float4 out = make_float4(alpha * acc[r][half * 4 + 0], alpha * acc[r][half * 4 + 1],
                                 alpha * acc[r][half * 4 + 2], alpha * acc[r][half * 4 + 3]);
        if (beta != 0.0f) {
          const float4 old = *dst;
          out.x = fmaf(beta, old.x, out.x);
          out.y = fmaf(beta, old.y, out.y);
          out.z = fmaf(beta, old.z, out.z);
          out.w = fmaf(beta, old.w, out.w);
        }
        *dst = out;
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (col + e >= cols) break;
          const float out = alpha * acc[r][half * 4 + e];
          c_row[col + e] = beta != 0.0f ? fmaf(beta, c_row[col + e], out) : out;
        }
      }
    }
  }
}

using Launcher = void (*)(const Problem&, dim3, bool, cudaStream_t);

template <int kBlockM, bool kTransA, bool kTransB, bool kVector>
void launch(const Problem& p, dim3 grid, bool c_vector, cudaStream_t stream) {
  sgemm_kernel<kBlockM, kTransA, kTransB, kVector><<<grid, Shape<kBlockM>::kThreads, 0, stream>>>(p, c_vector);
}

template <int kBlockM, bool kTransA, bool kTransB>
Launcher pick(bool vector) {
  return vector ? launch<kBlockM, kTransA, kTransB, true> : launch<kBlockM, kTransA, kTransB, false>;
}

template <int kBlockM>
Launcher pick(bool trans_a, bool trans_b, bool vector) {
  if (trans_a) return trans_b ? pick<kBlockM, true, true>(vector) : pick<kBlockM, true, false>(vector);
  return trans_b ? pick<kBlockM, false, true>(vector) : pick<kBlockM, false, false>(vector);
}

// A and B (or C) can move as float4: 16-byte aligned start, and a leading dimension and batch
// stride that keep every row start 16-byte aligned.
bool vector_friendly(const float* x, int64_t ld, int64_t stride) {
  return gemm_common::aligned(x, 16) && ld % 4 == 0 && stride % 4 == 0;
}

void run(const char* who, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
         const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
         float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch, Stream stream) {
  if (m == 0 || n == 0 || batch == 0) return;
  const bool reads_ab = k > 0 && alpha != 0.0f;
  const Problem problem{m, n, reads_ab ? k : 0, alpha, beta,
                        reads_ab ? a : nullptr, lda, stride_a,
                        reads_ab ? b : nullptr, ldb, stride_b,
                        c, ldc, stride_c};
  const bool vector = reads_ab && vector_friendly(a, lda, stride_a) && vector_friendly(b, ldb, stride_b);
  const bool c_vector = vector_friendly(c, ldc, stride_c);
  const int block_m = m <= 64 ? 64 : 128;
  const Launcher launcher = block_m == 64 ? pick<64>(trans_a, trans_b, vector) : pick<128>(trans_a, trans_b, vector);
  gemm_common::for_each_launch(trans_a, problem, batch, block_m, kBlockN, [&](const Problem& piece, dim3 grid) {
    launcher(piece, grid, c_vector, stream);
    gemm_common::check_launch(who);
  });
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, Stream stream) {
  constexpr const char* kWho = "graft::kernels::cuda::gemm";
  gemm_common::check_arguments(kWho, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  run(kWho, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1, stream);
}

void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                  int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
                  int64_t batch, Stream stream) {
  constexpr const char* kWho = "graft::kernels::cuda::gemm_batched";
  gemm_common::check_arguments(kWho, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc, batch);
  gemm_common::check_batch(kWho, m, n, ldc, stride_a, stride_b, stride_c, batch);
  run(kWho, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
      stride_c, batch, stream);
}

}  // namespace graft::kernels::cuda
