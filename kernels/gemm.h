#pragma once
// General matrix multiply over raw row-major buffers:
//   C = alpha * op(A) * op(B) + beta * C,   op(A): m x k,  op(B): k x n,  C: m x n.
// A is stored m x k with leading dimension lda (k x m when trans_a); likewise B.
// When beta == 0, C is only written (it may hold NaN or garbage beforehand).
// The CUDA and cuBLAS variants below take device pointers and a stream, and launch asynchronously.
#include <cstdint>

#include "kernels/stream.h"

namespace graft::kernels::cpu {

// The hand-written kernel: packed panels, a register-blocked FMA micro-kernel (AVX-512, AVX2 or
// portable C++, the fastest this CPU runs), multithreaded.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// Double precision (gradient checks and references): cache-blocked, multithreaded.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// Naive triple loop with double accumulation: the oracle that tests compare against.
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc);

// The float micro-kernel that gemm and the convolutions use: "avx512", "avx2" or "portable".
// GRAFT_CPU_ISA=NAME picks one (to compare them); unset, the fastest this CPU runs. A value that is
// unknown or that this CPU cannot run is reported once on stderr and the fastest kernel is used.
const char* sgemm_isa();
// Throws std::invalid_argument, naming the value and what this CPU supports, when GRAFT_CPU_ISA is
// set to a kernel that is unknown or that this CPU cannot run (the command line checks at start).
void check_cpu_isa_environment();

}  // namespace graft::kernels::cpu

namespace graft::kernels::cuda {

// Hand-written FP32 SGEMM on the CUDA cores (block, warp and register tiling; kernels/cuda/gemm.cu).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          Stream stream);
// The same product on the tensor cores: A and B rounded to TF32 (10-bit mantissa), FP32
// accumulation (kernels/cuda/gemm_tf32.cu). Needs sm_80 or newer.
void gemm_tf32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc, Stream stream);
// `batch` independent FP32 products: the i-th uses a + i * stride_a, b + i * stride_b and
// c + i * stride_c (strides in elements; 0 shares one A or one B across the batch). The C
// matrices must not overlap.
void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                  int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
                  int64_t batch, Stream stream);

}  // namespace graft::kernels::cuda

namespace graft::kernels::vendor {

// cuBLAS with the same signatures and meaning (kernels/vendor/cublas_gemm.cu): cublasSgemm with
// TF32 disabled, cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32, cublasSgemmStridedBatched.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          Stream stream);
void gemm_tf32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc, Stream stream);
void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                  int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
                  int64_t batch, Stream stream);

}  // namespace graft::kernels::vendor
