// clip_grad_norm: torch.nn.utils.clip_grad_norm_ with the 2-norm. Each gradient's norm is rounded
// to the gradient's dtype and the clip coefficient is computed in that dtype, as torch does
// (coefficient = max_norm * 1 / (norm + 1e-6), clamped to 1, multiplied into every gradient even
// when it is 1), so the clipped gradients match torch's to float rounding.
#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops/on_device.h"
#include "kernels/optim.h"
#include "nn/optim/optimizer.h"

namespace graft::nn {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  GRAFT_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_grad_norm: max_norm ", max_norm,
              " is invalid; use a finite value > 0 (e.g. 1.0)");
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    GRAFT_CHECK(params[i].defined(), "clip_grad_norm: parameter ", i, " is an undefined tensor");
    const Tensor grad = params[i].grad();
    if (!grad.defined()) continue;
    GRAFT_CHECK(grad.dtype() == DType::f32 || grad.dtype() == DType::f64, "clip_grad_norm: the gradient of parameter ",
                i, " has dtype ", dtype_name(grad.dtype()), "; only float32 and float64 gradients are supported");
    grads.push_back(grad);
  }
  if (grads.empty()) return 0.0;

  NoGradGuard no_grad;
  const DType norm_dtype = grads.front().dtype();
  const auto round = [](DType dtype, double value) {
    return dtype == DType::f32 ? static_cast<double>(static_cast<float>(value)) : value;
  };
  // Each gradient's sum of squares as a float64 scalar on its device; on a GPU all are queued
  // before the first is read, so the host waits for the device once rather than per gradient.
  std::vector<Tensor> squares;
  for (const Tensor& grad : grads) {
    const Tensor data = grad.contiguous();
    squares.push_back(visit_compute_dtype(data.dtype(), "clip_grad_norm", [&](auto t) {
      using T = decltype(t);
      const T* x = data.device_data<T>();
      return ops::on_device(
          data, [&] { return Tensor::scalar(kernels::cpu::sum_of_squares<T>(x, data.numel()), DType::f64); },
          [&](auto stream) {
            const Tensor result = Tensor::empty({}, DType::f64, data.device());
            kernels::cuda::sum_of_squares<T>(x, data.numel(), result.device_data<double>(), stream);
            return result;
          });
    }));
  }
  double sum_of_norms_squared = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    const double norm = round(grads[i].dtype(), std::sqrt(squares[i].item()));
    sum_of_norms_squared += norm * norm;
  }
  const double total_norm = round(norm_dtype, std::sqrt(sum_of_norms_squared));

  for (const Tensor& grad : grads) {
    visit_compute_dtype(grad.dtype(), "clip_grad_norm", [&](auto t) {
      using T = decltype(t);
      const T reciprocal = T(1) / (static_cast<T>(total_norm) + static_cast<T>(1e-6));
      const T coefficient = std::min(reciprocal * static_cast<T>(max_norm), T(1));
      Tensor data = grad.contiguous();
      T* x = data.device_data<T>();
      ops::on_device(
          data, [&] { kernels::cpu::scale_in_place<T>(x, data.numel(), coefficient); },
          [&](auto stream) { kernels::cuda::scale_in_place<T>(x, data.numel(), coefficient, stream); });
      if (!data.same_storage(grad)) grad.copy_(data);
    });
  }
  return total_norm;
}

}  // namespace graft::nn
