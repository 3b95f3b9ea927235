// log_softmax along any dimension: y = x - log(sum(exp(x))) over that dimension. The tensor is
// viewed as [outer, dim, inner] (the sizes before, at and after the dimension), which is the
// layout the kernels work on. Backward needs only the output: dx = dy - exp(y) * sum(dy).
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "kernels/softmax.h"

namespace graft::ops {
namespace {

struct Extents {
  int64_t outer = 1, dim = 1, inner = 1;
};

// A 0-d tensor is treated as one element along a dimension of size 1 (as PyTorch does).
Extents extents_around(const Shape& shape, int64_t dim) {
  Extents e;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < dim) e.outer *= shape[d];
    if (d == dim) e.dim = shape[d];
    if (d > dim) e.inner *= shape[d];
  }
  return e;
}

struct LogSoftmaxBackward : Node {
  Tensor output;  // detached, contiguous
  Extents extents;
  const char* name() const override { return "LogSoftmaxBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor dy = grad.contiguous();
    Tensor dx = Tensor::empty(output.shape(), output.dtype(), output.device());
    const Extents e = extents;
    visit_compute_dtype(output.dtype(), "log_softmax", [&](auto v) {
      using T = decltype(v);
      const T* pdy = dy.device_data<T>();
      const T* py = output.device_data<T>();
      T* pdx = dx.device_data<T>();
      on_device(
          output, [&] { kernels::cpu::log_softmax_backward(pdy, py, e.outer, e.dim, e.inner, pdx); },
          [&](auto stream) { kernels::cuda::log_softmax_backward(pdy, py, e.outer, e.dim, e.inner, pdx, stream); });
    });
    return {dx};
  }
  void release_saved() override { output = Tensor(); }
};

}  // namespace

Tensor log_softmax(const Tensor& x, int64_t dim_in) {
  check_float(x, "log_softmax", "x");
  const int64_t dim = wrap_dim(dim_in, std::max<int64_t>(x.dim(), 1), "log_softmax");
  const Extents e = extents_around(x.shape(), dim);
  const Tensor src = x.detach().contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  visit_compute_dtype(x.dtype(), "log_softmax", [&](auto v) {
    using T = decltype(v);
    const T* px = src.device_data<T>();
    T* py = out.device_data<T>();
    on_device(
        x, [&] { kernels::cpu::log_softmax_forward(px, e.outer, e.dim, e.inner, py); },
        [&](auto stream) { kernels::cuda::log_softmax_forward(px, e.outer, e.dim, e.inner, py, stream); });
  });
  if (any_requires_grad({x})) {
    auto node = std::make_shared<LogSoftmaxBackward>();
    node->output = out.detach();
    node->extents = e;
    record(out, node, {x});
  }
  return out;
}

}  // namespace graft::ops
