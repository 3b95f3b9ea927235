// relu: y = max(x, 0). Backward passes the gradient where the saved output is positive.
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "kernels/elementwise.h"

namespace graft::ops {
namespace {

struct ReluBackward : Node {
  Tensor y;  // the detached output: y > 0 exactly where x > 0
  const char* name() const override { return "ReluBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    const Tensor g = grad_output.contiguous();
    Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
    visit_compute_dtype(y.dtype(), "relu", [&](auto v) {
      using T = decltype(v);
      const T* pg = g.device_data<T>();
      const T* py = y.device_data<T>();
      T* pdx = dx.device_data<T>();
      on_device(
          y, [&] { kernels::cpu::relu_backward(pg, py, y.numel(), pdx); },
          [&](auto stream) { kernels::cuda::relu_backward(pg, py, y.numel(), pdx, stream); });
    });
    return {dx};
  }
  void release_saved() override { y = Tensor(); }
};

}  // namespace

Tensor relu(const Tensor& x) {
  check_float(x, "relu", "x");
  const Tensor src = x.detach().contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  visit_compute_dtype(x.dtype(), "relu", [&](auto v) {
    using T = decltype(v);
    const T* px = src.device_data<T>();
    T* py = out.device_data<T>();
    on_device(
        x, [&] { kernels::cpu::relu_forward(px, src.numel(), py); },
        [&](auto stream) { kernels::cuda::relu_forward(px, src.numel(), py, stream); });
  });
  if (any_requires_grad({x})) {
    auto node = std::make_shared<ReluBackward>();
    node->y = out.detach();
    record(out, node, {x});
  }
  return out;
}

}  // namespace graft::ops
