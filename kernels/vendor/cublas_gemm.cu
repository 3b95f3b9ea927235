// The cuBLAS baselines for the GEMMs of kernels/gemm.h, with the same signatures and meaning.
//
// cuBLAS is column-major; graft's buffers are row-major. A row-major m x n matrix with leading
// dimension ld is, read column-major, its n x m transpose with the same ld. So C = op(A) op(B)
// becomes C^T = op(B)^T op(A)^T: pass B where cuBLAS expects its first operand, A as the second,
// and swap m and n. The transposition flags carry over unchanged.
//
// One cuBLAS handle per device per thread, created on first use and destroyed when the thread
// ends; every call sets the handle's stream and math mode, so calls never leak settings into each
// other. The FP32 variants ask for CUBLAS_DEFAULT_MATH explicitly: no TF32 down-conversion.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/gemm_common.cuh"
#include "kernels/gemm.h"

namespace graft::kernels::vendor {
namespace {

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("graft::kernels::vendor: ") + what + " failed: " +
                             cublasGetStatusName(status) + " (" + cublasGetStatusString(status) + ")");
}

// The calling thread's handles, one per device, destroyed with the thread.
class Handles {
 public:
  Handles() = default;
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;
  ~Handles() {
    for (cublasHandle_t handle : handles_)
      if (handle != nullptr) cublasDestroy(handle);
  }

  // The handle for the current device, configured for `stream` and `math`.
  cublasHandle_t get(cudaStream_t stream, cublasMath_t math) {
    int device = 0;
    const cudaError_t status = cudaGetDevice(&device);
    if (status != cudaSuccess)
      throw std::runtime_error(std::string("graft::kernels::vendor: cudaGetDevice failed: ") +
                               cudaGetErrorString(status));
    if (device >= static_cast<int>(handles_.size())) handles_.resize(device + 1, nullptr);
    cublasHandle_t& handle = handles_[device];
    if (handle == nullptr) check(cublasCreate(&handle), "cublasCreate");
    check(cublasSetStream(handle, stream), "cublasSetStream");
    check(cublasSetMathMode(handle, math), "cublasSetMathMode");
    return handle;
  }

 private:
  std::vector<cublasHandle_t> handles_;
};

cublasHandle_t handle(Stream stream, cublasMath_t math) {
  thread_local Handles handles;
  return handles.get(stream, math);
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

// cuBLAS wants every leading dimension >= 1, even for an empty operand it never reads.
int64_t ld_for_cublas(int64_t ld) { return std::max<int64_t>(ld, 1); }

// A product that reads neither A nor B (k = 0, or alpha = 0 where NaN in A or B must not reach C)
// is C = beta * C. Some cuBLAS versions left C untouched for k = 0, so graft's own kernel, which
// scales C as the CPU twin does, computes it.
bool only_scales_c(int64_t k, float alpha) { return k == 0 || alpha == 0.0f; }

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, Stream stream) {
  gemm_common::check_arguments("graft::kernels::vendor::gemm", trans_a, trans_b, m, n, k, alpha, a,
                               lda, b, ldb, c, ldc);
  if (m == 0 || n == 0) return;
  if (only_scales_c(k, alpha)) return cuda::gemm(trans_a, trans_b, m, n, 0, alpha, a, lda, b, ldb, beta, c, ldc, stream);
  check(cublasSgemm_64(handle(stream, CUBLAS_DEFAULT_MATH), op(trans_b), op(trans_a), n, m, k, &alpha, b, ld_for_cublas(ldb), a, ld_for_cublas(lda),
                       &beta, c, ld_for_cublas(ldc)),
        "cublasSgemm");
}

void gemm_tf32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc, Stream stream) {
  gemm_common::check_arguments("graft::kernels::vendor::gemm_tf32", trans_a, trans_b, m, n, k,
                               alpha, a, lda, b, ldb, c, ldc);
  if (m == 0 || n == 0) return;
  if (only_scales_c(k, alpha)) return cuda::gemm(trans_a, trans_b, m, n, 0, alpha, a, lda, b, ldb, beta, c, ldc, stream);
  check(cublasGemmEx_64(handle(stream, CUBLAS_DEFAULT_MATH), op(trans_b), op(trans_a), n, m, k, &alpha, b, CUDA_R_32F, ld_for_cublas(ldb), a,
                        CUDA_R_32F, ld_for_cublas(lda), &beta, c, CUDA_R_32F, ld_for_cublas(ldc),
                        CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx (CUBLAS_COMPUTE_32F_FAST_TF32)");
}

void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                  int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
                  int64_t batch, Stream stream) {
  constexpr const char* kWho = "graft::kernels::vendor::gemm_batched";
  gemm_common::check_arguments(kWho, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc, batch);
  gemm_common::check_batch(kWho, m, n, ldc, stride_a, stride_b, stride_c, batch);
  if (m == 0 || n == 0 || batch == 0) return;
  if (only_scales_c(k, alpha)) {
    return cuda::gemm_batched(trans_a, trans_b, m, n, 0, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                              stride_c, batch, stream);
  }
  check(cublasSgemmStridedBatched_64(handle(stream, CUBLAS_DEFAULT_MATH), op(trans_b), op(trans_a),
                                     n, m, k, &alpha, b, ld_for_cublas(ldb),
                                     stride_b, a, ld_for_cublas(lda), stride_a, &beta, c,
                                     ld_for_cublas(ldc), stride_c, batch),
        "cublasSgemmStridedBatched");
}

}  // namespace graft::kernels::vendor
