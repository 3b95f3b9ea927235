#pragma once
// Optimizer updates over raw contiguous buffers, element by element, in the parameter's type T
// (float or double). Hyperparameters arrive as double and are rounded to T before use, as torch
// rounds a Python float to the tensor's dtype. Each formula repeats the order of floating-point
// operations of torch 1.13's single-tensor (foreach=False) path on the CPU, fused multiply-adds
// included (torch's `add(x, alpha=a)` and `addcmul` compile to FMA), so the results agree with torch
// to the last bit, or within a rounding.
#include <cstdint>

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
