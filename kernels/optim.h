#pragma once
// Optimizer updates over raw contiguous buffers, element by element, in the parameter's type T
// (float or double). Hyperparameters arrive as double and are rounded to T before use, as torch
// rounds a Python float to the tensor's dtype. Each formula repeats the order of floating-point
// operations of torch 1.13's single-tensor (foreach=False) path on the CPU, fused multiply-adds
// included (torch's `add(x, alpha=a)` and `addcmul` compile to FMA), so the results agree with torch
// to the last bit, or within a rounding.
#include <cstdint>

#include "kernels/stream.h"

namespace graft::kernels::cpu {

struct SgdHyperparameters {
  double lr = 0;
  double weight_decay = 0;
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
};

// One torch.optim.SGD step of n elements:
//   d = grad + weight_decay * param
//   buf = first_step ? d : momentum * buf + (1 - dampening) * d      (only when momentum != 0)
//   d = nesterov ? d + momentum * buf : buf                          (only when momentum != 0)
//   param -= lr * d
// momentum_buffer may be null when momentum == 0.
template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buffer, bool first_step,
                const SgdHyperparameters& h);

struct AdamHyperparameters {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW: param *= 1 - lr * weight_decay before the update
  bool amsgrad = false;
};

// One torch.optim.Adam / AdamW step of n elements; `step` is this parameter's step count
// including this one (1 on the first update). max_exp_avg_sq may be null unless amsgrad.
//   g = grad (+ weight_decay * param for Adam)
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
//   param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// with v replaced by its running maximum under amsgrad.
template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                 int64_t step, const AdamHyperparameters& h);

// The sum of x[i]^2, accumulated in double over fixed-size blocks, so the result does not depend
// on the thread count.
template <typename T>
double sum_of_squares(const T* x, int64_t n);

// x[i] *= factor.
template <typename T>
void scale_in_place(T* x, int64_t n, T factor);

}  // namespace graft::kernels::cpu

// The CUDA twins: device pointers for the data, queued on `stream` (nothing waits for the GPU).
// Every element goes through the same operations, in the same order and with the same fused
// multiply-adds, as in the CPU twins (kernels/cuda/optim.cu is compiled with -fmad=false, so nvcc
// fuses nothing else), and each operation rounds correctly on both sides: the updated parameters
// and state equal the CPU twins' bit for bit. Throw std::invalid_argument on a negative size or a
// null pointer that the update needs.
namespace graft::kernels::cuda {

using cpu::AdamHyperparameters;
using cpu::SgdHyperparameters;

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buffer, bool first_step, const SgdHyperparameters& h,
                Stream stream);

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t step,
                 const AdamHyperparameters& h, Stream stream);

// One parameter tensor of a multi-tensor SGD step.
template <typename T>
struct SgdTensor {
  T* param = nullptr;
  const T* grad = nullptr;
  T* momentum_buffer = nullptr;  // may be null when momentum == 0
  int64_t n = 0;
  bool first_step = false;  // the buffer is new (torch's momentum_buffer was None): it takes the gradient
};

// sgd_update of every tensor with the same hyperparameters, many tensors per launch (as torch's
// foreach / multi_tensor_apply): the tensors are cut into chunks of a few thousand elements and
// each block of the launch updates one chunk. Results equal sgd_update's bit for bit. The array is
// read during the call.
template <typename T>
void sgd_update_many(const SgdTensor<T>* tensors, int64_t count, const SgdHyperparameters& h, Stream stream);

// One parameter tensor of a multi-tensor Adam / AdamW step, with its own step count (1 on its
// first update).
template <typename T>
struct AdamTensor {
  T* param = nullptr;
  const T* grad = nullptr;
  T* exp_avg = nullptr;
  T* exp_avg_sq = nullptr;
  T* max_exp_avg_sq = nullptr;  // may be null unless amsgrad
  int64_t n = 0;
  int64_t step = 1;
};

// adam_update of every tensor, many tensors per launch; results equal adam_update's bit for bit.
template <typename T>
void adam_update_many(const AdamTensor<T>* tensors, int64_t count, const AdamHyperparameters& h, Stream stream);

// Writes the sum of x[i]^2, accumulated in double, to the device double *result (0 when n == 0).
// Blocks sum chunks and a second pass adds their partial sums in order: deterministic, and equal
// to the CPU twin's result up to the order of the double additions.
template <typename T>
void sum_of_squares(const T* x, int64_t n, double* result, Stream stream);

template <typename T>
void scale_in_place(T* x, int64_t n, T factor, Stream stream);

}  // namespace graft::kernels::cuda
