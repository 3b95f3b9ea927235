// conv2d: 2-D cross-correlation over NCHW with stride, padding, dilation and groups (groups ==
// in_channels is a depthwise convolution), plus an optional per-channel bias. Backward runs the
// input-gradient kernel only when x needs a gradient and the weight-gradient kernel only when the
// weight does, so a frozen layer costs one kernel and the first layer of a network (whose input
// needs no gradient) costs one as well.
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/ops.h"
#include "kernels/conv2d.h"

namespace graft::ops {
namespace {

using kernels::Conv2dGeometry;

void check_arguments(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride,
                     Size2 padding, Size2 dilation, int64_t groups) {
  check_float(x, "conv2d", "x");
  check_float(weight, "conv2d", "weight");
  if (bias.defined()) check_float(bias, "conv2d", "bias");
  check_same_kind(x, "x", {{&weight, "weight"}, {&bias, "bias"}}, "conv2d");
  check_dim(x, 4, "conv2d", "x", "[N, C_in, H, W]");
  check_dim(weight, 4, "conv2d", "weight", "[C_out, C_in / groups, KH, KW]");
  for (int64_t d = 0; d < 4; ++d) {
    GRAFT_CHECK(x.size(d) > 0, "conv2d: x has an empty dimension, shape ", shape_str(x.shape()),
                "; every dimension must be at least 1");
    GRAFT_CHECK(weight.size(d) > 0, "conv2d: weight has an empty dimension, shape ",
                shape_str(weight.shape()), "; every dimension must be at least 1");
  }
  for (int i = 0; i < 2; ++i) {
    GRAFT_CHECK(stride[i] > 0, "conv2d: stride must be positive, got {", stride[0], ", ", stride[1], "}");
    GRAFT_CHECK(dilation[i] > 0, "conv2d: dilation must be positive, got {", dilation[0], ", ",
                dilation[1], "}");
    GRAFT_CHECK(padding[i] >= 0, "conv2d: padding must be non-negative, got {", padding[0], ", ",
                padding[1], "}");
  }
  GRAFT_CHECK(groups > 0, "conv2d: groups must be positive, got ", groups);
  const int64_t in_channels = x.size(1), out_channels = weight.size(0);
  GRAFT_CHECK(in_channels % groups == 0, "conv2d: groups = ", groups,
              " does not divide the input channels (x has shape ", shape_str(x.shape()), ")");
  GRAFT_CHECK(out_channels % groups == 0, "conv2d: groups = ", groups,
              " does not divide the output channels (weight has shape ", shape_str(weight.shape()), ")");
  GRAFT_CHECK(in_channels == weight.size(1) * groups, "conv2d: x has ", in_channels,
              " channels but weight ", shape_str(weight.shape()), " with groups = ", groups, " expects ",
              weight.size(1) * groups, " (weight.size(1) * groups)");
  if (bias.defined()) {
    GRAFT_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, "conv2d: bias must have shape [",
                out_channels, "] (one value per output channel), got ", shape_str(bias.shape()));
  }
  const char* axis[2] = {"rows", "columns"};
  for (int i = 0; i < 2; ++i) {
    const int64_t padded = x.size(2 + i) + 2 * padding[i];
    const int64_t extent = dilation[i] * (weight.size(2 + i) - 1) + 1;
    GRAFT_CHECK(extent <= padded, "conv2d: the kernel spans ", extent, " ", axis[i],
                " (dilation included) but the padded input has only ", padded, "; x has shape ",
                shape_str(x.shape()), ", weight ", shape_str(weight.shape()), ", padding {",
                padding[0], ", ", padding[1], "}");
  }
}

Conv2dGeometry geometry(const Tensor& x, const Tensor& weight, Size2 stride, Size2 padding,
                        Size2 dilation, int64_t groups) {
  Conv2dGeometry g;
  g.batch = x.size(0);
  g.in_channels = x.size(1);
  g.in_h = x.size(2);
  g.in_w = x.size(3);
  g.out_channels = weight.size(0);
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.pad_h = padding[0];
  g.pad_w = padding[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  g.groups = groups;
  return g;
}

struct Conv2dBackward : Node {
  Conv2dGeometry geometry;
  Tensor x;       // detached, contiguous; saved only when the weight needs a gradient
  Tensor weight;  // detached, contiguous; saved only when x needs a gradient
  const char* name() const override { return "Conv2dBackward"; }

  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor dy = grad.contiguous();
    const DType dtype = dy.dtype();
    const Conv2dGeometry& g = geometry;
    const bool need_x = needs_grad(0), need_w = needs_grad(1), need_b = needs_grad(2);
    Tensor dx, dw, db;
    if (need_x) dx = Tensor::empty({g.batch, g.in_channels, g.in_h, g.in_w}, dtype);
    if (need_w) {
      dw = Tensor::empty({g.out_channels, g.in_channels_per_group(), g.kernel_h, g.kernel_w}, dtype);
    }
    if (need_b) db = Tensor::empty({g.out_channels}, dtype);
    visit_compute_dtype(dtype, "conv2d backward", [&](auto v) {
      using T = decltype(v);
      if (need_x) kernels::cpu::conv2d_backward_data(g, dy.data<T>(), weight.data<T>(), dx.data<T>());
      if (need_w) {
        kernels::cpu::conv2d_backward_weight(g, x.data<T>(), dy.data<T>(), dw.data<T>(),
                                             need_b ? db.data<T>() : nullptr);
      }
    });
    if (need_b && !need_w) db = sum(dy, {0, 2, 3});
    return {dx, dw, db};
  }
  void release_saved() override {
    x = Tensor();
    weight = Tensor();
  }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  check_arguments(x, weight, bias, stride, padding, dilation, groups);
  check_cpu(x, "conv2d");
  const Conv2dGeometry g = geometry(x, weight, stride, padding, dilation, groups);
  const Tensor cx = x.detach().contiguous();
  const Tensor cw = weight.detach().contiguous();
  const Tensor cb = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty({g.batch, g.out_channels, g.out_h(), g.out_w()}, x.dtype());
  visit_compute_dtype(x.dtype(), "conv2d", [&](auto v) {
    using T = decltype(v);
    kernels::cpu::conv2d_forward(g, cx.data<T>(), cw.data<T>(), cb.defined() ? cb.data<T>() : nullptr,
                                 out.data<T>());
  });
  if (any_requires_grad({x, weight, bias})) {
    auto node = std::make_shared<Conv2dBackward>();
    node->geometry = g;
    if (weight.requires_grad()) node->x = cx;
    if (x.requires_grad()) node->weight = cw;
    record(out, node, {x, weight, bias});
  }
  return out;
}

}  // namespace graft::ops
