#include "core/ops/device_gemm.h"

#include "core/kernel_choice.h"
#include "core/ops/on_device.h"
#include "kernels/gemm.h"

namespace graft::ops {
namespace {

bool use_vendor() { return kernel_source(KernelFamily::gemm) == KernelSource::vendor; }

}  // namespace

template <typename T>
void device_gemm(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  on_device(
      device, [&] { kernels::cpu::gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); },
      [&](auto stream) {
        check_float32_on_cuda<T>("gemm");
        if constexpr (std::is_same_v<T, float>) {
          const bool tf32 = allow_tf32();
          if (use_vendor()) {
            (tf32 ? kernels::vendor::gemm_tf32 : kernels::vendor::gemm)(trans_a, trans_b, m, n, k, alpha, a, lda, b,
                                                                        ldb, beta, c, ldc, stream);
          } else {
            (tf32 ? kernels::cuda::gemm_tf32 : kernels::cuda::gemm)(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                                                                    beta, c, ldc, stream);
          }
        }
      });
}

template <typename T>
void device_gemm_batched(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                         const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta,
                         T* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  // The CPU, and TF32 (which has no batched kernel), loop over the products.
  if (device.is_cpu() || allow_tf32()) {
    for (int64_t i = 0; i < batch; ++i) {
      device_gemm(device, trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
                  c + i * stride_c, ldc);
    }
    return;
  }
  on_device(
      device, [] {},  // the CPU looped above
      [&](auto stream) {
        check_float32_on_cuda<T>("gemm");
        if constexpr (std::is_same_v<T, float>) {
          (use_vendor() ? kernels::vendor::gemm_batched : kernels::cuda::gemm_batched)(
              trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch,
              stream);
        }
      });
}

template void device_gemm<float>(Device, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                 const float*, int64_t, float, float*, int64_t);
template void device_gemm<double>(Device, bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                  const double*, int64_t, double, double*, int64_t);
template void device_gemm_batched<float>(Device, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                         int64_t, const float*, int64_t, int64_t, float, float*, int64_t, int64_t,
                                         int64_t);
template void device_gemm_batched<double>(Device, bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                          int64_t, int64_t, const double*, int64_t, int64_t, double, double*, int64_t,
                                          int64_t, int64_t);

}  // namespace graft::ops
