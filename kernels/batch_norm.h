#pragma once
// Batch normalization over raw buffers laid out as [n, c, hw] (NCHW with the spatial dims
// flattened; hw = 1 for [N, C] inputs). Statistics are per channel c. gamma/beta may be null
// (no affine transform). T is float or double.
#include <cstdint>

namespace graft::kernels::cpu {

// Training mode: uses the batch's mean and biased variance for y; saves mean and
// 1/sqrt(var + eps) for backward. When running_mean/running_var are not null they are
// updated in place with `momentum`, using the unbiased variance (as PyTorch does).
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
