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

}  // namespace graft::kernels::cpu::gemm_detail
