// The 6 x 16 AVX2/FMA SGEMM micro-kernel. Compiled for AVX2 whatever the build flags say and only
// called after a run-time check (gemm.cpp), so the library still runs on older CPUs.
//
// Registers: 12 accumulators (6 rows x 2 ymm of 8 floats), 2 for the B row, 1 for the broadcast
// A value: 15 of the 16 ymm. Each step of p does 12 FMAs against 8 loads, enough independent
// accumulators to cover the FMA latency (4 cycles) on both FMA pipes.
#include <immintrin.h>

#include "kernels/cpu/gemm_kernels.h"

namespace graft::kernels::cpu::gemm_detail {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

}  // namespace

__attribute__((target("avx2,fma"))) void sgemm_microkernel_avx2(int64_t kc, const float* a_panel,
                                                                const float* b_panel, float* c,
                                                                int64_t ldc, float alpha,
                                                                float beta, int mr, int nr) {
  // Named accumulators: GCC keeps an array of vectors in memory, which costs a store per FMA.
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

  // Pull the C tile toward L1 while the product is computed.
  for (int i = 0; i < mr; ++i)
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);

#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(b_panel);
    const __m256 b1 = _mm256_load_ps(b_panel + 8);
    __m256 a = _mm256_broadcast_ss(a_panel + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(a_panel + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(a_panel + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(a_panel + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(a_panel + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(a_panel + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    a_panel += kMr;
    b_panel += kNr;
  }
  const __m256 acc[kMr][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                              {c30, c31}, {c40, c41}, {c50, c51}};

  // Edge tiles go through a full-size scratch tile so they run the same vector code.
  const bool full = mr == kMr && nr == kNr;
  alignas(32) float scratch[kMr * kNr];
  float* out = full ? c : scratch;
  const int64_t ld = full ? ldc : kNr;
  if (!full) {
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j)
        scratch[i * kNr + j] = beta != 0.0f && i < mr && j < nr ? c[i * ldc + j] : 0.0f;
  }

  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < kMr; ++i) {
      _mm256_storeu_ps(out + i * ld, _mm256_mul_ps(va, acc[i][0]));
      _mm256_storeu_ps(out + i * ld + 8, _mm256_mul_ps(va, acc[i][1]));
    }
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
    for (int i = 0; i < kMr; ++i) {
      float* row = out + i * ld;
      _mm256_storeu_ps(row,
                       _mm256_fmadd_ps(va, acc[i][0], _mm256_mul_ps(vb, _mm256_loadu_ps(row))));
      _mm256_storeu_ps(row + 8,
                       _mm256_fmadd_ps(va, acc[i][1], _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8))));
    }
  }

  if (!full) {
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) c[i * ldc + j] = scratch[i * kNr + j];
  }
}

__attribute__((target("avx2"))) void pack_rows_transposed_avx2(const float* src, int64_t row_stride, int live,
                                                               int64_t depth, int width, float* dst) {
  int r0 = 0;
  for (; r0 + 8 <= live; r0 += 8) {
    const float* rows = src + r0 * row_stride;
    int64_t p0 = 0;
    for (; p0 + 8 <= depth; p0 += 8) {
      // Rows r0..r0+7 at depths p0..p0+7, transposed in registers: after the three rounds of
      // shuffles, vector q holds depth p0 + q of the eight rows, which is where the panel wants it.
      const float* at = rows + p0;
      const __m256 x0 = _mm256_loadu_ps(at), x1 = _mm256_loadu_ps(at + row_stride);
      const __m256 x2 = _mm256_loadu_ps(at + 2 * row_stride), x3 = _mm256_loadu_ps(at + 3 * row_stride);
      const __m256 x4 = _mm256_loadu_ps(at + 4 * row_stride), x5 = _mm256_loadu_ps(at + 5 * row_stride);
      const __m256 x6 = _mm256_loadu_ps(at + 6 * row_stride), x7 = _mm256_loadu_ps(at + 7 * row_stride);
      // Pairs of rows interleaved: t0 = x0[0] x1[0] x0[1] x1[1] | x0[4] x1[4] x0[5] x1[5], ...
      const __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
      const __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
      const __m256 t4 = _mm256_unpacklo_ps(x4, x5), t5 = _mm256_unpackhi_ps(x4, x5);
      const __m256 t6 = _mm256_unpacklo_ps(x6, x7), t7 = _mm256_unpackhi_ps(x6, x7);
      // Quads: u0 = depth 0 of rows 0-3 | depth 4 of rows 0-3, u1 = depths 1 | 5, ...
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
      // Halves joined: rows 0-3 and rows 4-7 of one depth.
      float* out = dst + p0 * width + r0;
      _mm256_storeu_ps(out, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(out + width, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(out + 2 * width, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(out + 3 * width, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(out + 4 * width, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(out + 5 * width, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(out + 6 * width, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(out + 7 * width, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (; p0 < depth; ++p0) {
      for (int r = r0; r < r0 + 8; ++r) dst[p0 * width + r] = src[r * row_stride + p0];
    }
  }
  for (int r = r0; r < live; ++r) {
    for (int64_t p = 0; p < depth; ++p) dst[p * width + r] = src[r * row_stride + p];
  }
}

}  // namespace graft::kernels::cpu::gemm_detail
