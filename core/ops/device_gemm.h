#pragma once
// The GEMM the ops call (kernels/gemm.h's meaning, row-major), on `device`: graft's CPU kernel on
// the CPU; on a CUDA device graft's own kernel or cuBLAS as kernel_source(KernelFamily::gemm) says,
// on the tensor cores in TF32 when allow_tf32() (core/kernel_choice.h). CUDA computes in float32 only.
#include <cstdint>

#include "core/device.h"

namespace graft::ops {

template <typename T>
void device_gemm(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// `batch` products with operands at a + i * stride_a etc. (a stride of 0 shares one matrix).
template <typename T>
void device_gemm_batched(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                         const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta,
                         T* c, int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace graft::ops
