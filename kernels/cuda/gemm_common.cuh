#pragma once
// What the hand-written CUDA GEMMs (gemm.cu, gemm_tf32.cu) and the cuBLAS wrapper
// (kernels/vendor/cublas_gemm.cu) share: argument checks whose messages say what to fix, the
// problem as the kernels receive it, its split into launches that fit CUDA's grid limits, and the
// order in which blocks walk the tiles of C.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace graft::kernels::gemm_common {

// Throws std::invalid_argument naming `who` unless the arguments describe a valid product:
// non-negative sizes, leading dimensions that cover a stored row, and non-null pointers wherever
// elements will be read or written (A and B are not read when k == 0 or alpha == 0, nothing is
// touched when batch == 0).
inline void check_arguments(const char* who, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                            int64_t ldb, const float* c, int64_t ldc, int64_t batch = 1) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(who) + ": " + what);
  };
  if (m < 0 || n < 0 || k < 0)
    fail("sizes must be non-negative, got m = " + std::to_string(m) + ", n = " + std::to_string(n) +
         ", k = " + std::to_string(k));
  auto check_ld = [&](const char* name, int64_t ld, int64_t row_length, const char* length_name,
                      const char* matrix) {
    if (ld < row_length)
      fail(std::string(name) + " = " + std::to_string(ld) + " is smaller than the " +
           std::to_string(row_length) + " elements (" + length_name + ") of a stored row of " +
           matrix + "; pass " + name + " >= " + std::to_string(row_length));
  };
  check_ld("lda", lda, trans_a ? m : k, trans_a ? "m, as trans_a is set" : "k", "A");
  check_ld("ldb", ldb, trans_b ? k : n, trans_b ? "k, as trans_b is set" : "n", "B");
  check_ld("ldc", ldc, n, "n", "C");
  const bool writes_c = m > 0 && n > 0 && batch > 0;
  if (writes_c && c == nullptr) fail("C is null but the product has " + std::to_string(m * n) + " elements");
  if (writes_c && k > 0 && alpha != 0.0f && (a == nullptr || b == nullptr))
    fail(std::string(a == nullptr ? "A" : "B") + " is null but k = " + std::to_string(k) +
         " and alpha != 0 need its elements");
}

// The batch part of the batched variants: a non-negative count and strides, and C matrices that
// do not overlap (each C is written by its own blocks; overlapping ones would race).
inline void check_batch(const char* who, int64_t m, int64_t n, int64_t ldc, int64_t stride_a,
                        int64_t stride_b, int64_t stride_c, int64_t batch) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(who) + ": " + what);
  };
  if (batch < 0) fail("batch = " + std::to_string(batch) + " must be non-negative");
  if (stride_a < 0 || stride_b < 0 || stride_c < 0)
    fail("strides must be non-negative (0 shares one matrix across the batch), got stride_a = " +
         std::to_string(stride_a) + ", stride_b = " + std::to_string(stride_b) +
         ", stride_c = " + std::to_string(stride_c));
  const int64_t c_span = m > 0 && n > 0 ? (m - 1) * ldc + n : 0;
  if (batch > 1 && stride_c < c_span)
    fail("stride_c = " + std::to_string(stride_c) + " makes consecutive C matrices overlap (each spans " +
         std::to_string(c_span) + " elements); pass stride_c >= " + std::to_string(c_span));
}

// The problem one launch computes. When alpha == 0, k is 0: A and B are not read and C becomes
// beta * C (0 when beta == 0), exactly like the CPU twin.
struct Problem {
  int64_t m, n, k;
  float alpha, beta;
  const float* a;
  int64_t lda, stride_a;
  const float* b;
  int64_t ldb, stride_b;
  float* c;
  int64_t ldc, stride_c;
};

// True when `p` is `bytes`-aligned.
inline bool aligned(const void* p, int bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

// `p + offset`, leaving a null pointer null (A and B are null when they are not read).
template <class T>
T* offset(T* p, int64_t elements) {
  return p == nullptr ? p : p + elements;
}

// gridDim.y and gridDim.z are at most 65535: rows of C and batch entries beyond that go to
// further launches. Calls launch(piece, grid) for each piece, in order.
template <class Launch>
void for_each_launch(bool trans_a, const Problem& problem, int64_t batch, int block_m, int block_n,
                     Launch&& launch) {
  constexpr int64_t kMaxGridYZ = 65535;
  const int64_t tiles_n = (problem.n + block_n - 1) / block_n;
  if (tiles_n > INT_MAX)
    throw std::invalid_argument("graft gemm: n = " + std::to_string(problem.n) +
                                " needs more than 2^31 - 1 column blocks; split the product");
  const int64_t rows_per_launch = kMaxGridYZ * block_m;
  for (int64_t first = 0; first < batch; first += kMaxGridYZ) {
    const int64_t count = std::min(batch - first, kMaxGridYZ);
    for (int64_t row0 = 0; row0 < problem.m; row0 += rows_per_launch) {
      Problem piece = problem;
      piece.m = std::min(problem.m - row0, rows_per_launch);
      piece.a = offset(problem.a, first * problem.stride_a + (trans_a ? row0 : row0 * problem.lda));
      piece.b = offset(problem.b, first * problem.stride_b);
      piece.c = problem.c + first * problem.stride_c + row0 * problem.ldc;
      const dim3 grid(static_cast<unsigned>(tiles_n),
                      static_cast<unsigned>((piece.m + block_m - 1) / block_m),
                      static_cast<unsigned>(count));
      launch(piece, grid);
    }
  }
}

// Throws std::runtime_error naming `who` if the last launch failed.
inline void check_launch(const char* who) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(who) + ": kernel launch failed: " + cudaGetErrorString(status));
}

#ifdef __CUDACC__
struct Tile {
  int64_t row, col;  // block row and block column of C
};

// The tile of C this block computes. Blocks are taken in groups of kGroupRows block rows, column
// by column inside a group, so that the blocks running at the same time share a few rows of A and
// columns of B in L2 instead of each streaming its own. A bijection onto the grid's tiles.
__device__ inline Tile grouped_tile() {
  constexpr int64_t kGroupRows = 8;
  const int64_t tiles_n = gridDim.x, tiles_m = gridDim.y;
  const int64_t linear = int64_t(blockIdx.y) * tiles_n + blockIdx.x;
  const int64_t group_size = kGroupRows * tiles_n;
  const int64_t first_row = linear / group_size * kGroupRows;
  const int64_t rows_in_group =
      tiles_m - first_row < kGroupRows ? tiles_m - first_row : kGroupRows;
  const int64_t in_group = linear % group_size;
  return {first_row + in_group % rows_in_group, in_group / rows_in_group};
}
#endif

}  // namespace graft::kernels::gemm_common
