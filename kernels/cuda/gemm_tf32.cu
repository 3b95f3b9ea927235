// TF32 GEMM on the tensor cores (sm_80+): C = alpha * op(A) * op(B) + beta * C over row-major
// buffers, with A and B rounded to TF32 (cvt.rna: 10-bit mantissa, round to nearest, ties away)
// and FP32 accumulation, through the warp-wide mma.sync.m16n8k8 instruction.
//
// Tiling:
//  - Block tile 128 x 128 of C (64 x 128 when m <= 64), 4 warps laid out 2 x 2, stepping through
//    the depth in slices of 32. Each warp owns a 64 x 64 (or 32 x 64) tile: 4 (or 2) x 8 mma tiles
//    of 16 x 8, whose accumulators stay in registers (4 floats per thread per mma tile).
//  - A 3-stage cp.async pipeline: while the warps multiply slice t, the copies of slices t+1 and
//    t+2 are in flight, written straight from global to shared memory without passing through
//    registers. cp.async copies bytes as they are, so each slice keeps the operand's memory layout:
//    [rows][32 + 4] when the operand is contiguous along the depth (A, or B transposed), else
//    [32][rows + 8]. With those pads the 32 lanes of every fragment load (lane = 4 * g + t reads
//    row g, depth t, or depth t, row g) fall in 32 different banks.
//  - Copies are 16 bytes when A and B start 16-byte aligned with leading dimensions that are
//    multiples of 4, else 4 bytes. The hardware zero-fills what lies outside the matrices (the
//    copy's source size is cut to the elements inside), so the arithmetic never branches.
//  - Fragments are read from shared memory with 32-bit loads and rounded to TF32 in registers;
//    C is written in pairs of floats (the two adjacent columns an mma lane owns) when aligned.
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/gemm_common.cuh"
#include "kernels/gemm.h"

namespace graft::kernels::cuda {
namespace {

using gemm_common::Problem;

constexpr int kDepth = 32;    // depth of a shared-memory slice
constexpr int kStages = 3;    // slices in flight
constexpr int kBlockN = 128;  // columns of C per block
constexpr int kThreads = 128; // 4 warps, 2 x 2
constexpr int kWarpCols = 64; // columns of C per warp

// Rounds to TF32 (the mma reads the upper 19 bits of the register).
__device__ __forceinline__ uint32_t to_tf32(float x) {
  uint32_t rounded;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(rounded) : "f"(x));
  return rounded;
}

// d += a * b for one 16 x 8 x 8 tile. Lane = 4 * g + t holds a = A(g, t), A(g + 8, t), A(g, t + 4),
// A(g + 8, t + 4); b = B(t, g), B(t + 4, g); d = D(g, 2t), D(g, 2t + 1), D(g + 8, 2t), D(g + 8, 2t + 1).
__device__ __forceinline__ void mma_16x8x8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Copies `bytes` (at most `kBytes`) from global `src` to shared `dst` and zero-fills the rest.
template <int kBytes>
__device__ __forceinline__ void copy_async(float* dst, const float* src, int bytes) {
  const uint32_t shared = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  if constexpr (kBytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared), "l"(src), "r"(bytes) : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(shared), "l"(src), "r"(bytes) : "memory");
}

__device__ __forceinline__ void commit_copies() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most `kPending` committed groups of this thread's copies are still in flight.
template <int kPending>
__device__ __forceinline__ void wait_copies() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// One operand's slices in shared memory and the copies that fill them. Element (i, p) has i along
// the tile's kExtent rows of A (or columns of B) and p along the depth; in global memory it sits at
// src[i * ld + p] when kDepthContiguous (A, or B transposed), else at src[p * ld + i].
template <int kExtent, bool kDepthContiguous, bool kVector>
struct Operand {
  static constexpr int kStride = kDepthContiguous ? kDepth + 4 : kExtent + 8;
  static constexpr int kFloats = (kDepthContiguous ? kExtent : kDepth) * kStride;  // one slice
  static constexpr int kChunks = kExtent * kDepth / 4 / kThreads;  // runs of 4 floats per thread
  // Chunk c of a thread covers row i0 + c * kChunkStep (depth-contiguous) or depth
  // p0 + c * kChunkStep (otherwise): consecutive threads copy consecutive addresses.
  static constexpr int kChunkStep = kDepthContiguous ? kThreads / (kDepth / 4) : kThreads / (kExtent / 4);
  static_assert(kChunks * kThreads * 4 == kExtent * kDepth, "the threads must cover the slice");
  static_assert(kFloats % 4 == 0, "slices must stay 16-byte aligned");

  __device__ static float at(const float* slice, int i, int p) {
    return kDepthContiguous ? slice[i * kStride + p] : slice[p * kStride + i];
  }

  const float* tile;  // element (0, 0) of the tile: inside the matrix, the source of empty copies
  const float* next;  // chunk 0 of the next slice to copy
  int64_t ld;
  int extent;  // rows (or columns) of the tile inside the matrix, at most kExtent
  int i0, p0;

  __device__ Operand(const float* tile_, int64_t ld_, int extent_, int thread)
      : tile(tile_), ld(ld_), extent(extent_) {
    if (kDepthContiguous) {
      i0 = thread / (kDepth / 4);
      p0 = thread % (kDepth / 4) * 4;
      next = tile + i0 * ld + p0;
    } else {
      p0 = thread / (kExtent / 4);
      i0 = thread % (kExtent / 4) * 4;
      next = tile + p0 * ld + i0;
    }
  }

  // Starts copying the next slice into `slice`; `depth` (1..kDepth) of its depths lie inside the
  // matrix.
  __device__ void copy_next(float* slice, int depth) {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const float* src = next + c * kChunkStep * ld;
      float* dst = kDepthContiguous ? slice + (i0 + c * kChunkStep) * kStride + p0
                                    : slice + (p0 + c * kChunkStep) * kStride + i0;
      // Elements 0 .. live-1 of the run are inside the matrix.
      int live = kDepthContiguous ? (i0 + c * kChunkStep < extent ? depth - p0 : 0)
                                  : (p0 + c * kChunkStep < depth ? extent - i0 : 0);
      live = live < 0 ? 0 : (live > 4 ? 4 : live);
      if (kVector) {
        copy_async<16>(dst, live > 0 ? src : tile, 4 * live);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) copy_async<4>(dst + e, e < live ? src + e : tile, e < live ? 4 : 0);
      }
    }
    next += kDepthContiguous ? kDepth : kDepth * ld;
  }
};

template <int kBlockM, bool kTransA, bool kTransB, bool kVector>
struct Tf32Config {
  using A = Operand<kBlockM, !kTransA, kVector>;
  using B = Operand<kBlockN, kTransB, kVector>;
  static constexpr int kStageFloats = A::kFloats + B::kFloats;
  static constexpr int kSharedBytes = kStages * kStageFloats * static_cast<int>(sizeof(float));
};

// One block computes one kBlockM x kBlockN tile of C. `c_pairs`: C may be written two floats at a
// time (8-byte aligned, even ldc).
template <int kBlockM, bool kTransA, bool kTransB, bool kVector>
__global__ void __launch_bounds__(kThreads) tf32_gemm_kernel(Problem p, bool c_pairs) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // the host refuses GPUs older than sm_80 before launching
#else
  using Config = Tf32Config<kBlockM, kTransA, kTransB, kVector>;
  using A = typename Config::A;
  using B = typename Config::B;
  constexpr int kWarpRows = kBlockM / 2;
  constexpr int kMmaRows = kWarpRows / 16, kMmaCols = kWarpCols / 8;
  extern __shared__ __align__(16) float stages[];

  const gemm_common::Tile tile = gemm_common::grouped_tile();
  const int64_t row0 = tile.row * kBlockM, col0 = tile.col * kBlockN;
  const int rows = static_cast<int>(p.m - row0 < kBlockM ? p.m - row0 : kBlockM);
  const int cols = static_cast<int>(p.n - col0 < kBlockN ? p.n - col0 : kBlockN);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int warp_row = warp / 2 * kWarpRows, warp_col = warp % 2 * kWarpCols;

  float acc[kMmaRows][kMmaCols][4];
#pragma unroll
  for (int mi = 0; mi < kMmaRows; ++mi)
#pragma unroll
    for (int ni = 0; ni < kMmaCols; ++ni)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[mi][ni][q] = 0.0f;

  const int64_t slices = (p.k + kDepth - 1) / kDepth;
  if (slices > 0) {
    A a(p.a + (kTransA ? row0 : row0 * p.lda), p.lda, rows, threadIdx.x);
    B b(p.b + (kTransB ? col0 * p.ldb : col0), p.ldb, cols, threadIdx.x);
    auto copy_slice = [&](int64_t slice, int stage) {
      const int64_t left = p.k - slice * kDepth;
      const int depth = static_cast<int>(left < kDepth ? left : kDepth);
      float* base = stages + stage * Config::kStageFloats;
      a.copy_next(base, depth);
      b.copy_next(base + A::kFloats, depth);
    };

    // Prologue: slices 0 .. kStages-2 in flight, one commit group each (empty past the end, so
    // that group s always holds slice s).
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < slices) copy_slice(s, s);
      commit_copies();
    }

    int read_stage = 0, write_stage = kStages - 1;
    for (int64_t slice = 0; slice < slices; ++slice) {
      // Groups 0 .. slice + kStages - 2 are committed; this thread's copies of slice `slice` are
      // done once at most kStages - 2 groups remain, and everyone's after the barrier. The barrier
      // also ends every warp's reads of the previous slice, whose stage the next copy reuses.
      wait_copies<kStages - 2>();
      __syncthreads();
      if (slice + kStages - 1 < slices) copy_slice(slice + kStages - 1, write_stage);
      commit_copies();

      const float* as = stages + read_stage * Config::kStageFloats;
      const float* bs = as + A::kFloats;
      // Unrolled by 2, not 4: with every fragment of the slice loaded up front the kernel would
      // need more than 255 registers and spill.
#pragma unroll 2
      for (int k8 = 0; k8 < kDepth; k8 += 8) {
        uint32_t af[kMmaRows][4], bf[kMmaCols][2];
#pragma unroll
        for (int mi = 0; mi < kMmaRows; ++mi) {
          const int i = warp_row + mi * 16 + g;
          af[mi][0] = to_tf32(A::at(as, i, k8 + t));
          af[mi][1] = to_tf32(A::at(as, i + 8, k8 + t));
          af[mi][2] = to_tf32(A::at(as, i, k8 + t + 4));
          af[mi][3] = to_tf32(A::at(as, i + 8, k8 + t + 4));
        }
#pragma unroll
        for (int ni = 0; ni < kMmaCols; ++ni) {
          const int j = warp_col + ni * 8 + g;
          bf[ni][0] = to_tf32(B::at(bs, j, k8 + t));
          bf[ni][1] = to_tf32(B::at(bs, j, k8 + t + 4));
        }
#pragma unroll
        for (int mi = 0; mi < kMmaRows; ++mi)
#pragma unroll
          for (int ni = 0; ni < kMmaCols; ++ni) mma_16x8x8(acc[mi][ni], af[mi], bf[ni]);
      }
      read_stage = read_stage == kStages - 1 ? 0 : read_stage + 1;
      write_stage = write_stage == kStages - 1 ? 0 : write_stage + 1;
    }
    wait_copies<0>();  // only empty groups remain; leave nothing in flight at exit
  }

  float* c = p.c + row0 * p.ldc + col0;
  const float alpha = p.alpha, beta = p.beta;
#pragma unroll
  for (int mi = 0; mi < kMmaRows; ++mi)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = warp_row + mi * 16 + g + half * 8;
      if (row >= rows) continue;
      float* c_row = c + row * p.ldc;
#pragma unroll
      for (int ni = 0; ni < kMmaCols; ++ni) {
        const int col = warp_col + ni * 8 + 2 * t;
        float v0 = alpha * acc[mi][ni][2 * half], v1 = alpha * acc[mi][ni][2 * half + 1];
        if (c_pairs && col + 2 <= cols) {
          float2* dst = reinterpret_cast<float2*>(c_row + col);
          if (beta != 0.0f) {
            const float2 old = *dst;
            v0 = fmaf(beta, old.x, v0);
            v1 = fmaf(beta, old.y, v1);
          }
          *dst = make_float2(v0, v1);
        } else {
          if (col < cols) c_row[col] = beta != 0.0f ? fmaf(beta, c_row[col], v0) : v0;
          if (col + 1 < cols) c_row[col + 1] = beta != 0.0f ? fmaf(beta, c_row[col + 1], v1) : v1;
        }
      }
    }
#endif
}

using Launcher = void (*)(const Problem&, dim3, bool, cudaStream_t, int);

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("graft::kernels::cuda::gemm_tf32: ") + what + " failed: " +
                             cudaGetErrorString(status));
}

// Set bits of `devices` name the devices (below 64) where something was done once; devices 64 and
// up are never marked, so the work is redone for them on every call.
bool done_on(const std::atomic<uint64_t>& devices, int device) {
  return device < 64 && (devices.load(std::memory_order_relaxed) >> device & 1);
}
void mark_done(std::atomic<uint64_t>& devices, int device) {
  if (device < 64) devices.fetch_or(uint64_t(1) << device, std::memory_order_relaxed);
}

template <int kBlockM, bool kTransA, bool kTransB, bool kVector>
void launch(const Problem& p, dim3 grid, bool c_pairs, cudaStream_t stream, int device) {
  constexpr int kBytes = Tf32Config<kBlockM, kTransA, kTransB, kVector>::kSharedBytes;
  auto* kernel = tf32_gemm_kernel<kBlockM, kTransA, kTransB, kVector>;
  // More than the default 48 KiB of shared memory must be asked for, per kernel and device.
  static std::atomic<uint64_t> configured{0};
  if (!done_on(configured, device)) {
    check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes),
               "cudaFuncSetAttribute (dynamic shared memory)");
    mark_done(configured, device);
  }
  kernel<<<grid, kThreads, kBytes, stream>>>(p, c_pairs);
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

// The largest pipeline needs (128 * 36 floats per operand slice) * 2 operands * 3 stages.
constexpr int kMostSharedBytes = Tf32Config<128, false, true, true>::kSharedBytes;

// Refuses GPUs without TF32 mma (before sm_80) or without room for the pipeline.
void check_device(int device) {
  static std::atomic<uint64_t> checked{0};
  if (done_on(checked, device)) return;
  int major = 0, minor = 0, shared = 0;
  check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "cudaDeviceGetAttribute");
  check_cuda(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "cudaDeviceGetAttribute");
  check_cuda(cudaDeviceGetAttribute(&shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "cudaDeviceGetAttribute");
  const std::string gpu = "sm_" + std::to_string(major) + std::to_string(minor);
  if (major < 8)
    throw std::runtime_error("graft::kernels::cuda::gemm_tf32: TF32 tensor cores need sm_80 or newer; device " +
                             std::to_string(device) + " is " + gpu + "; use the FP32 cuda::gemm instead");
  if (shared < kMostSharedBytes)
    throw std::runtime_error("graft::kernels::cuda::gemm_tf32: needs " + std::to_string(kMostSharedBytes) +
                             " bytes of shared memory per block, device " + std::to_string(device) + " (" + gpu +
                             ") allows " + std::to_string(shared) + "; use the FP32 cuda::gemm instead");
  mark_done(checked, device);
}

}  // namespace

void gemm_tf32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc, Stream stream) {
  constexpr const char* kWho = "graft::kernels::cuda::gemm_tf32";
  gemm_common::check_arguments(kWho, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  if (m == 0 || n == 0) return;
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_device(device);
  const bool reads_ab = k > 0 && alpha != 0.0f;
  const Problem problem{m, n, reads_ab ? k : 0, alpha, beta,
                        reads_ab ? a : nullptr, lda, 0,
                        reads_ab ? b : nullptr, ldb, 0,
                        c, ldc, 0};
  const bool vector = reads_ab && gemm_common::aligned(a, 16) && lda % 4 == 0 &&
                      gemm_common::aligned(b, 16) && ldb % 4 == 0;
  const bool c_pairs = gemm_common::aligned(c, 8) && ldc % 2 == 0;
  const int block_m = m <= 64 ? 64 : 128;
  const Launcher launcher = block_m == 64 ? pick<64>(trans_a, trans_b, vector) : pick<128>(trans_a, trans_b, vector);
  gemm_common::for_each_launch(trans_a, problem, 1, block_m, kBlockN, [&](const Problem& piece, dim3 grid) {
    launcher(piece, grid, c_pairs, stream, device);
    gemm_common::check_launch(kWho);
  });
}

}  // namespace graft::kernels::cuda
