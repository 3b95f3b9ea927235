#pragma once
// The CPU GEMM's micro-kernel interface, shared by gemm.cpp, the per-ISA micro-kernel files, the
// tests, and the convolution kernels (conv2d_forward.cpp packs its own panels and calls the
// micro-kernels directly, so a change of tile shape or signature here must be made there too).
//
// The blocked driver (gemm.cpp) packs op(A) into panels of MR rows and op(B) into panels of NR
// columns, both stored k-major (panel[p * MR + i]) and zero-padded to full width, then calls a
// micro-kernel once per MR x NR tile of C. A micro-kernel computes, for its tile,
//   C = alpha * (A_panel * B_panel) + beta * C        (beta == 0: C is only written)
// accumulating over p = 0..kc-1 in order. Only the first mr rows and nr columns of the tile are
// stored, so edge tiles run the very same arithmetic as full ones: a C element gets the same bits
// whichever tile, thread or call computes it.
#include <cstdint>

namespace graft::kernels::cpu::gemm_detail {

template <class T>
using MicroKernel = void (*)(int64_t kc, const T* a_panel, const T* b_panel, T* c, int64_t ldc,
                             T alpha, T beta, int mr, int nr);

// Cache blocking: an MR x NR register tile, a kc x NR panel of B that stays in L1 while the
// MR x kc panels of A stream past it, an mc x kc block of A that stays in L2 and a kc x nc block
// of B that stays in L3. mc is a multiple of mr, nc of nr.
struct Blocking {
  int mr, nr;
  int64_t mc, kc, nc;
};

template <class T>
struct Kernel {
  const char* name;
  Blocking blocking;
  MicroKernel<T> run;
  // Whether the driver may pack transposed panels with the AVX2 in-register transpose
  // (pack_rows_transposed_avx2); the portable kernel packs in plain C++ throughout.
  bool avx2_packing = false;
};

// The float micro-kernels, one per instruction set: portable C++ and AVX2 on a 6 x 16 tile, AVX-512
// on an 8 x 32 tile.
enum class SgemmIsa { portable, avx2, avx512 };

const char* sgemm_isa_name(SgemmIsa isa);  // "portable", "avx2", "avx512"
// Whether this CPU (and its operating system) can run the kernel for `isa`.
bool supported(SgemmIsa isa);
const Kernel<float>& sgemm_kernel(SgemmIsa isa);
// The fastest kernel this CPU supports.
SgemmIsa best_sgemm_isa();
// The kernel gemm(float...) and the convolutions use (kernels/gemm.h: sgemm_isa()).
SgemmIsa active_sgemm_isa();
// Makes `isa` the active kernel for the rest of the process (tests and benchmarks switch at run
// time); std::invalid_argument when this CPU cannot run it.
void set_active_sgemm_isa(SgemmIsa isa);
// The kernel named `name` ("portable", "avx2", "avx512"); std::invalid_argument when the name is
// unknown or this CPU cannot run it, listing what it supports.
SgemmIsa parse_sgemm_isa(const char* name);

// gemm(float...) with an explicit micro-kernel; lets the tests cover every kernel the CPU runs.
void sgemm(SgemmIsa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

// 6 x 16 AVX2/FMA kernel (gemm_avx2.cpp). Call only where supported(SgemmIsa::avx2).
void sgemm_microkernel_avx2(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                            int64_t ldc, float alpha, float beta, int mr, int nr);
// Packs `live` rows of one panel whose rows are contiguous along the depth (a transposition):
// dst[p * width + r] = src[r * row_stride + p] for r < live, p < depth; width a multiple of 8.
// Eight rows by eight depths at a time go through an in-register transpose (gemm_avx2.cpp). Call
// only where supported(SgemmIsa::avx2).
void pack_rows_transposed_avx2(const float* src, int64_t row_stride, int live, int64_t depth, int width,
                               float* dst);
// 8 x 32 AVX-512F kernel (gemm_avx512.cpp). Call only where supported(SgemmIsa::avx512).
void sgemm_microkernel_avx512(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                              int64_t ldc, float alpha, float beta, int mr, int nr);

// Plain C++ micro-kernel of any tile shape.
template <class T, int MR, int NR>
void microkernel_portable(int64_t kc, const T* a_panel, const T* b_panel, T* c, int64_t ldc,
                          T alpha, T beta, int mr, int nr) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const T a = a_panel[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += a * b_panel[j];
    }
    a_panel += MR;
    b_panel += NR;
  }
  for (int i = 0; i < mr; ++i) {
    T* row = c + i * ldc;
    for (int j = 0; j < nr; ++j) {
      row[j] = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * row[j];
    }
  }
}

}  // namespace graft::kernels::cpu::gemm_detail
