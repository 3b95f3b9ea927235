// The 8 x 32 AVX-512 SGEMM micro-kernel. Compiled for AVX-512F whatever the build flags say and
// only called after a run-time check (gemm.cpp), so the library still runs on CPUs without it.
//
// Registers: 16 accumulators (8 rows x 2 zmm of 16 floats) and 2 for the B row; each A value is
// broadcast straight from memory into its FMAs. Each step of p does 16 FMAs against 2 vector loads
// and 8 broadcasts: twice the independent accumulators needed to cover the FMA latency (4 cycles)
// on two 512-bit FMA pipes. Eight rows divide every ResNet and VGG channel count, so the packed A
// panels carry no padding rows there.
#include <immintrin.h>

#include "kernels/cpu/gemm_kernels.h"

namespace graft::kernels::cpu::gemm_detail {
namespace {

constexpr int kMr = 8;
constexpr int kNr = 32;

// The first `count` of 16 lanes (count may be <= 0 or >= 16).
__mmask16 lanes(int count) {
  if (count <= 0) return 0;
  return count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1);
}

}  // namespace

__attribute__((target("avx512f"))) void sgemm_microkernel_avx512(int64_t kc, const float* a_panel,
                                                                  const float* b_panel, float* c,
                                                                  int64_t ldc, float alpha,
                                                                  float beta, int mr, int nr) {
  // Named accumulators: GCC keeps an array of vectors in memory, which costs a store per FMA.
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
  __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
  __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
  __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
  __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
  __m512 c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();

  // Pull the C tile toward L1 while the product is computed (a row is two cache lines).
  for (int i = 0; i < mr; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNr - 1), _MM_HINT_T0);
  }

#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b_panel);
    const __m512 b1 = _mm512_loadu_ps(b_panel + 16);
    __m512 a = _mm512_set1_ps(a_panel[0]);
    c00 = _mm512_fmadd_ps(a, b0, c00);
    c01 = _mm512_fmadd_ps(a, b1, c01);
    a = _mm512_set1_ps(a_panel[1]);
    c10 = _mm512_fmadd_ps(a, b0, c10);
    c11 = _mm512_fmadd_ps(a, b1, c11);
    a = _mm512_set1_ps(a_panel[2]);
    c20 = _mm512_fmadd_ps(a, b0, c20);
    c21 = _mm512_fmadd_ps(a, b1, c21);
    a = _mm512_set1_ps(a_panel[3]);
    c30 = _mm512_fmadd_ps(a, b0, c30);
    c31 = _mm512_fmadd_ps(a, b1, c31);
    a = _mm512_set1_ps(a_panel[4]);
    c40 = _mm512_fmadd_ps(a, b0, c40);
    c41 = _mm512_fmadd_ps(a, b1, c41);
    a = _mm512_set1_ps(a_panel[5]);
    c50 = _mm512_fmadd_ps(a, b0, c50);
    c51 = _mm512_fmadd_ps(a, b1, c51);
    a = _mm512_set1_ps(a_panel[6]);
    c60 = _mm512_fmadd_ps(a, b0, c60);
    c61 = _mm512_fmadd_ps(a, b1, c61);
    a = _mm512_set1_ps(a_panel[7]);
    c70 = _mm512_fmadd_ps(a, b0, c70);
    c71 = _mm512_fmadd_ps(a, b1, c71);
    a_panel += kMr;
    b_panel += kNr;
  }
  const __m512 acc[kMr][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                              {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};

  // Edge tiles store through lane masks: the same arithmetic as full tiles, and masked-off lanes
  // are neither read nor written.
  const __mmask16 left = lanes(nr), right = lanes(nr - 16);
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < mr; ++i) {
      float* row = c + i * ldc;
      _mm512_mask_storeu_ps(row, left, _mm512_mul_ps(va, acc[i][0]));
      _mm512_mask_storeu_ps(row + 16, right, _mm512_mul_ps(va, acc[i][1]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; ++i) {
      float* row = c + i * ldc;
      const __m512 old0 = _mm512_maskz_loadu_ps(left, row);
      const __m512 old1 = _mm512_maskz_loadu_ps(right, row + 16);
      _mm512_mask_storeu_ps(row, left, _mm512_fmadd_ps(va, acc[i][0], _mm512_mul_ps(vb, old0)));
      _mm512_mask_storeu_ps(row + 16, right,
                            _mm512_fmadd_ps(va, acc[i][1], _mm512_mul_ps(vb, old1)));
    }
  }
}

}  // namespace graft::kernels::cpu::gemm_detail
