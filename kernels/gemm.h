#pragma once
// General matrix multiply over raw row-major buffers:
//   C = alpha * op(A) * op(B) + beta * C,   op(A): m x k,  op(B): k x n,  C: m x n.
// A is stored m x k with leading dimension lda (k x m when trans_a); likewise B.
// When beta == 0, C is only written (it may hold NaN or garbage beforehand).
#include <cstdint>

namespace graft::kernels::cpu {

// The hand-written kernel: packed panels, a register-blocked FMA micro-kernel, multithreaded.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// Double precision (gradient checks and references): cache-blocked, multithreaded.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// Naive triple loop with double accumulation: the oracle that tests compare against.
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc);

}  // namespace graft::kernels::cpu
