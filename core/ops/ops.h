#pragma once
// The differentiable ops. Each is defined, with its backward and shape checks, in its own file
// under core/ops/ (named after the op). Inputs must share one device and one compute dtype
// (float32 or float64) unless stated; violations raise graft::Error naming the op and argument.
#include <array>
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace graft::ops {

using Size2 = std::array<int64_t, 2>;

enum class Reduction { none, mean, sum };

// ---- convolution and matrix products
// x [N, C_in, H, W], weight [C_out, C_in / groups, KH, KW], bias [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              Size2 stride = {1, 1}, Size2 padding = {0, 0}, Size2 dilation = {1, 1},
              int64_t groups = 1);
// x [..., in], weight [out, in], bias [out] or undefined: x @ weight^T + bias.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// [m, k] @ [k, n], or batched [B, m, k] @ [B, k, n] (a batch dim of 1 broadcasts).
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- normalization, activation, regularization
// x [N, C, ...]. training: normalizes with batch statistics and, when running stats are
// defined, updates them in place (momentum, unbiased variance). eval: uses the running stats.
// weight/bias may be undefined (no affine transform).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);
Tensor relu(const Tensor& x);
// Zeroes each element with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p, bool training, Generator& generator = default_generator());

// ---- pooling over x [N, C, H, W]
// stride {0, 0} means stride = kernel_size.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride = {0, 0}, Size2 padding = {0, 0},
                  Size2 dilation = {1, 1}, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride = {0, 0}, Size2 padding = {0, 0},
                  bool ceil_mode = false, bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

// ---- elementwise arithmetic with broadcasting (NumPy rules)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// ---- reductions; empty dims means all dims
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Sums `x` down to `shape` (the reverse of broadcasting `shape` up to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- shape
// Any dtype (cat only moves data), e.g. int64 label batches.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);

// ---- losses
Tensor log_softmax(const Tensor& x, int64_t dim);
// logits [N, C], target int64 [N] of class indices.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::mean,
                     int64_t ignore_index = -100, double label_smoothing = 0.0);
// With a weight per class (torch's `weight=`, e.g. against class imbalance): sample i counts
// weight[target_i]; the mean divides by the sum of those weights; label smoothing weights each
// class's share by its own weight. `weight` is [C], of the logits' dtype and device, and gets no
// gradient.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                     Reduction reduction = Reduction::mean, int64_t ignore_index = -100, double label_smoothing = 0.0);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

}  // namespace graft::ops

namespace graft {

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator-(const Tensor& a);

}  // namespace graft
