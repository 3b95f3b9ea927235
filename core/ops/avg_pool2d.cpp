// avg_pool2d over x [N, C, H, W] (or [C, H, W]): the mean of each window. The divisor counts the
// zero padding when count_include_pad (never the part of a ceil_mode window beyond it), else
// only the real input elements. Backward spreads each gradient evenly over its window.
#include "core/autograd.h"
#include "core/ops/on_device.h"
#include "core/ops/pool2d_common.h"

namespace graft::ops {
namespace {

struct AvgPool2dBackward : Node {
  kernels::Pool2dGeometry geometry;
  bool count_include_pad = true;
  Shape input_shape;
  const char* name() const override { return "AvgPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    const Tensor dy = grad_output.contiguous();
    Tensor dx = Tensor::empty(input_shape, dy.dtype(), dy.device());
    const kernels::Pool2dGeometry& g = geometry;
    const bool include_pad = count_include_pad;
    visit_compute_dtype(dy.dtype(), "avg_pool2d", [&](auto v) {
      using T = decltype(v);
      const T* pdy = dy.device_data<T>();
      T* pdx = dx.device_data<T>();
      on_device(
          dy, [&] { kernels::cpu::avg_pool2d_backward(g, include_pad, pdy, pdx); },
          [&](auto stream) { kernels::cuda::avg_pool2d_backward(g, include_pad, pdy, pdx, stream); });
    });
    return {dx};
  }
};

}  // namespace

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad) {
  if (x.defined() && x.dim() == 3) {
    return avg_pool2d(x.unsqueeze(0), kernel_size, stride, padding, ceil_mode, count_include_pad).squeeze(0);
  }
  const kernels::Pool2dGeometry g =
      pool2d_geometry("avg_pool2d", x, kernel_size, stride, padding, {1, 1}, ceil_mode);
  const Tensor src = x.detach().contiguous();
  Tensor out = Tensor::empty({x.size(0), x.size(1), g.out_h, g.out_w}, x.dtype(), x.device());
  visit_compute_dtype(x.dtype(), "avg_pool2d", [&](auto v) {
    using T = decltype(v);
    const T* px = src.device_data<T>();
    T* py = out.device_data<T>();
    on_device(
        x, [&] { kernels::cpu::avg_pool2d_forward(g, count_include_pad, px, py); },
        [&](auto stream) { kernels::cuda::avg_pool2d_forward(g, count_include_pad, px, py, stream); });
  });
  if (any_requires_grad({x})) {
    auto node = std::make_shared<AvgPool2dBackward>();
    node->geometry = g;
    node->count_include_pad = count_include_pad;
    node->input_shape = x.shape();
    record(out, node, {x});
  }
  return out;
}

}  // namespace graft::ops
