#pragma once
// Batch normalization over raw buffers laid out as [n, c, hw] (NCHW with the spatial dims
// flattened; hw = 1 for [N, C] inputs). Statistics are per channel c. gamma/beta may be null
// (no affine transform). T is float or double.
#include <cstdint>

#include "kernels/stream.h"

namespace graft::kernels::cpu {

// Training mode: uses the batch's mean and biased variance for y; saves mean and
// 1/sqrt(var + eps) for backward. When running_mean/running_var are not null they are
// updated in place with `momentum`, using the unbiased variance (as PyTorch does). y must not
// alias x (the GPU variant reads each channel's first element again after writing begins).
template <typename T>
void batch_norm_forward_train(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                              const T* beta, double eps, double momentum, T* running_mean,
                              T* running_var, T* y, T* save_mean, T* save_invstd);

// Evaluation mode: normalizes with the running statistics.
template <typename T>
void batch_norm_forward_eval(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                             const T* beta, const T* running_mean, const T* running_var,
                             double eps, T* y);

// Backward of training mode, given the saved batch statistics. Any of dx, dgamma, dbeta may be
// null (that gradient is not computed). Outputs are overwritten.
template <typename T>
void batch_norm_backward_train(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw,
                               const T* gamma, const T* save_mean, const T* save_invstd, T* dx,
                               T* dgamma, T* dbeta);

// Backward of evaluation mode (the statistics are constants). Any output may be null.
template <typename T>
void batch_norm_backward_eval(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw,
                              const T* gamma, const T* running_mean, const T* running_var,
                              double eps, T* dx, T* dgamma, T* dbeta);

}  // namespace graft::kernels::cpu

// The CUDA twins (kernels/cuda/batch_norm.cu): the same signatures plus the stream, device pointers,
// queued on `stream` (nothing waits for the GPU). Statistics and gradient sums accumulate in
// double in an order fixed by the shape (no atomics), so results repeat bit for bit; they agree
// with the CPU twins to a few roundings of T. Like the CPU twins, an empty batch (n * hw == 0)
// gives NaN statistics and zero dgamma/dbeta. Throw std::invalid_argument on negative sizes or a
// null pointer the call needs.
namespace graft::kernels::cuda {

template <typename T>
void batch_norm_forward_train(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                              const T* beta, double eps, double momentum, T* running_mean,
                              T* running_var, T* y, T* save_mean, T* save_invstd, Stream stream);
template <typename T>
void batch_norm_forward_eval(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                             const T* beta, const T* running_mean, const T* running_var,
                             double eps, T* y, Stream stream);
template <typename T>
void batch_norm_backward_train(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw,
                               const T* gamma, const T* save_mean, const T* save_invstd, T* dx,
                               T* dgamma, T* dbeta, Stream stream);
template <typename T>
void batch_norm_backward_eval(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw,
                              const T* gamma, const T* running_mean, const T* running_var,
                              double eps, T* dx, T* dgamma, T* dbeta, Stream stream);

}  // namespace graft::kernels::cuda

// cuDNN with the same signatures and meaning (kernels/vendor/cudnn_batch_norm.cpp), float only:
// CUDNN_BATCHNORM_SPATIAL over x as an [n, c, hw, 1] tensor. cuDNN's exponentialAverageFactor is
// graft's momentum, its running variance is the unbiased one and its saved "inverse variance" is
// 1/sqrt(biased var + eps), as here. Null gamma/beta become device buffers of ones/zeros; cuDNN
// takes int sizes, so n * c * hw must stay below 2^31 (else std::invalid_argument).
namespace graft::kernels::vendor {

void batch_norm_forward_train(const float* x, int64_t n, int64_t c, int64_t hw, const float* gamma,
                              const float* beta, double eps, double momentum, float* running_mean,
                              float* running_var, float* y, float* save_mean, float* save_invstd,
                              Stream stream);
void batch_norm_forward_eval(const float* x, int64_t n, int64_t c, int64_t hw, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             double eps, float* y, Stream stream);
void batch_norm_backward_train(const float* dy, const float* x, int64_t n, int64_t c, int64_t hw,
                               const float* gamma, const float* save_mean, const float* save_invstd,
                               float* dx, float* dgamma, float* dbeta, Stream stream);

}  // namespace graft::kernels::vendor
