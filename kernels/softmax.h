#pragma once
// Softmax-family kernels over raw contiguous buffers. T is float or double.
#include <cstdint>

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
