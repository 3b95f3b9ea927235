// max_pool2d over x [N, C, H, W] (or [C, H, W]): the maximum of each dilated window; padding
// never wins. The argmax of each window is saved, and backward scatters the gradient to it.
#include "core/autograd.h"
#include "core/ops/on_device.h"
#include "core/ops/pool2d_common.h"

namespace graft::ops {
namespace {

struct MaxPool2dBackward : Node {
  kernels::Pool2dGeometry geometry;
  Shape input_shape;
  Tensor indices;  // int64, the output's shape: argmax as h * W + w within its plane
  const char* name() const override { return "MaxPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    const Tensor dy = grad_output.contiguous();
    Tensor dx = Tensor::empty(input_shape, dy.dtype(), dy.device());
    const kernels::Pool2dGeometry& g = geometry;
    const int64_t* pi = indices.device_data<int64_t>();
    visit_compute_dtype(dy.dtype(), "max_pool2d", [&](auto v) {
      using T = decltype(v);
      const T* pdy = dy.device_data<T>();
      T* pdx = dx.device_data<T>();
      on_device(
          dy, [&] { kernels::cpu::max_pool2d_backward(g, pdy, pi, pdx); },
          [&](auto stream) { kernels::cuda::max_pool2d_backward(g, pdy, pi, pdx, stream); });
    });
    return {dx};
  }
  void release_saved() override { indices = Tensor(); }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding, Size2 dilation,
                  bool ceil_mode) {
  if (x.defined() && x.dim() == 3) {
    return max_pool2d(x.unsqueeze(0), kernel_size, stride, padding, dilation, ceil_mode).squeeze(0);
  }
  const kernels::Pool2dGeometry g =
      pool2d_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode);
  const Tensor src = x.detach().contiguous();
  Tensor out = Tensor::empty({x.size(0), x.size(1), g.out_h, g.out_w}, x.dtype(), x.device());
  Tensor indices = Tensor::empty(out.shape(), DType::i64, x.device());
  int64_t* pi = indices.device_data<int64_t>();
  visit_compute_dtype(x.dtype(), "max_pool2d", [&](auto v) {
    using T = decltype(v);
    const T* px = src.device_data<T>();
    T* py = out.device_data<T>();
    on_device(
        x, [&] { kernels::cpu::max_pool2d_forward(g, px, py, pi); },
        [&](auto stream) { kernels::cuda::max_pool2d_forward(g, px, py, pi, stream); });
  });
  if (any_requires_grad({x})) {
    auto node = std::make_shared<MaxPool2dBackward>();
    node->geometry = g;
    node->input_shape = x.shape();
    node->indices = indices;
    record(out, node, {x});
  }
  return out;
}

}  // namespace graft::ops
