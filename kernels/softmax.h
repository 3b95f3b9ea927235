#pragma once
// Softmax-family kernels over raw contiguous buffers. T is float or double.
#include <cstdint>

#include "kernels/stream.h"

namespace graft::kernels::cpu {

// y = log_softmax(x) along the middle axis of an [outer, dim, inner] buffer.
template <typename T>
void log_softmax_forward(const T* x, int64_t outer, int64_t dim, int64_t inner, T* y);
// dx = dy - exp(y) * sum(dy) along the same axis, given the forward output y.
template <typename T>
void log_softmax_backward(const T* dy, const T* y, int64_t outer, int64_t dim, int64_t inner,
                          T* dx);

// Cross entropy of logits [n, c] against class indices target [n], PyTorch's definition:
//   loss[i] = (1 - s) * (-logp[i, t_i]) + (s / c) * (-sum_j logp[i, j]),   s = label_smoothing
// and loss[i] = 0 where t_i == ignore_index. Writes log_probs [n, c] (saved for backward) and
// the per-sample loss [n]. Returns the number of samples that are not ignored. Targets outside
// [0, c) that are not ignore_index must be rejected by the caller.
template <typename T>
int64_t cross_entropy_forward(const T* logits, const int64_t* target, int64_t n, int64_t c,
                              int64_t ignore_index, double label_smoothing, T* log_probs, T* loss);
// dlogits[i, j] = dloss[i] * (softmax[i, j] - (1 - s) * [j == t_i] - s / c), 0 for ignored rows.
template <typename T>
void cross_entropy_backward(const T* log_probs, const int64_t* target, int64_t n, int64_t c,
                            int64_t ignore_index, double label_smoothing, const T* dloss,
                            T* dlogits);

}  // namespace graft::kernels::cpu

// The CUDA twins: same meaning, device pointers for the data, queued on `stream` (nothing waits for
// the GPU). Like the CPU twins they take the max in T and sum exponentials in double, so results
// agree with them to about one rounding of T. Throw std::invalid_argument on negative sizes or
// null pointers.
namespace graft::kernels::cuda {

template <typename T>
void log_softmax_forward(const T* x, int64_t outer, int64_t dim, int64_t inner, T* y, Stream stream);
template <typename T>
void log_softmax_backward(const T* dy, const T* y, int64_t outer, int64_t dim, int64_t inner, T* dx,
                          Stream stream);

// As cpu::cross_entropy_forward, with target a device array. The number of samples that are not
// ignored is written to the device int64_t *non_ignored (skipped when it is null) instead of being
// returned, so that the call does not wait for the GPU. A target outside [0, c) that is not
// ignore_index (which the caller must reject) gives a NaN loss for its sample, never a bad memory
// access. Throws std::invalid_argument for c < 1 when n > 0.
template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* target, int64_t n, int64_t c, int64_t ignore_index,
                           double label_smoothing, T* log_probs, T* loss, int64_t* non_ignored, Stream stream);
// As cpu::cross_entropy_backward; a sample with a target outside [0, c) gets NaN gradients.
template <typename T>
void cross_entropy_backward(const T* log_probs, const int64_t* target, int64_t n, int64_t c, int64_t ignore_index,
                            double label_smoothing, const T* dloss, T* dlogits, Stream stream);

}  // namespace graft::kernels::cuda
