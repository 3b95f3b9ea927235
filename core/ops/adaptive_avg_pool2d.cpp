// adaptive_avg_pool2d over x [N, C, H, W] (or [C, H, W]) to a fixed output size: output cell i
// along an axis averages input [floor(i * in / out), ceil((i + 1) * in / out)), so windows may
// overlap or differ in size. Backward spreads each gradient evenly over its window.
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "kernels/pool2d.h"

namespace graft::ops {
namespace {

// x as planes of [in_h, in_w] pooled to [out_h, out_w].
struct AdaptiveGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;
};

struct AdaptiveAvgPool2dBackward : Node {
  AdaptiveGeometry g{};
  Shape input_shape;
  const char* name() const override { return "AdaptiveAvgPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    const Tensor dy = grad_output.contiguous();
    Tensor dx = Tensor::empty(input_shape, dy.dtype(), dy.device());
    const AdaptiveGeometry a = g;
    visit_compute_dtype(dy.dtype(), "adaptive_avg_pool2d", [&](auto v) {
      using T = decltype(v);
      const T* pdy = dy.device_data<T>();
      T* pdx = dx.device_data<T>();
      on_device(
          dy, [&] { kernels::cpu::adaptive_avg_pool2d_backward(a.planes, a.in_h, a.in_w, a.out_h, a.out_w, pdy, pdx); },
          [&](auto stream) {
            kernels::cuda::adaptive_avg_pool2d_backward(a.planes, a.in_h, a.in_w, a.out_h, a.out_w, pdy, pdx, stream);
          });
    });
    return {dx};
  }
};

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  if (x.defined() && x.dim() == 3) return adaptive_avg_pool2d(x.unsqueeze(0), output_size).squeeze(0);
  const char* op = "adaptive_avg_pool2d";
  check_float(x, op, "x");
  check_dim(x, 4, op, "x", "[N, C, H, W] (or 3-D [C, H, W])");
  GRAFT_CHECK(output_size[0] >= 1 && output_size[1] >= 1, op, ": output_size must be at least 1x1, got ",
              shape_str({output_size[0], output_size[1]}));
  GRAFT_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": argument 'x' has an empty spatial size, shape ",
              shape_str(x.shape()));
  const AdaptiveGeometry g{x.size(0) * x.size(1), x.size(2), x.size(3), output_size[0], output_size[1]};
  const Tensor src = x.detach().contiguous();
  Tensor out = Tensor::empty({x.size(0), x.size(1), g.out_h, g.out_w}, x.dtype(), x.device());
  visit_compute_dtype(x.dtype(), op, [&](auto v) {
    using T = decltype(v);
    const T* px = src.device_data<T>();
    T* py = out.device_data<T>();
    on_device(
        x, [&] { kernels::cpu::adaptive_avg_pool2d_forward(g.planes, g.in_h, g.in_w, g.out_h, g.out_w, px, py); },
        [&](auto stream) {
          kernels::cuda::adaptive_avg_pool2d_forward(g.planes, g.in_h, g.in_w, g.out_h, g.out_w, px, py, stream);
        });
  });
  if (any_requires_grad({x})) {
    auto node = std::make_shared<AdaptiveAvgPool2dBackward>();
    node->g = g;
    node->input_shape = x.shape();
    record(out, node, {x});
  }
  return out;
}

}  // namespace graft::ops
