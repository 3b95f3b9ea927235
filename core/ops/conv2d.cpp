// conv2d: 2-D cross-correlation over NCHW with stride, padding, dilation and groups (groups ==
// in_channels is a depthwise convolution), plus an optional per-channel bias. Backward runs the
// input-gradient kernel only when x needs a gradient and the weight-gradient kernel only when the
// weight does, so a frozen layer costs one kernel and the first layer of a network (whose input
// needs no gradient) costs one as well. On a GPU the kernels are graft's implicit GEMMs or cuDNN's,
// as kernel_source(KernelFamily::conv2d) says (core/kernel_choice.h), in float32.
#include "core/autograd.h"
#include "core/kernel_choice.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
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

bool use_vendor() { return kernel_source(KernelFamily::conv2d) == KernelSource::vendor; }

// The three kernels on `device`. CUDA has float32 kernels only.
template <typename T>
void forward_on(Device device, const Conv2dGeometry& g, const T* x, const T* w, const T* b, T* y) {
  on_device(
      device, [&] { kernels::cpu::conv2d_forward(g, x, w, b, y); },
      [&](auto stream) {
        check_float32_on_cuda<T>("conv2d");
        if constexpr (std::is_same_v<T, float>) {
          (use_vendor() ? kernels::vendor::conv2d_forward : kernels::cuda::conv2d_forward)(g, x, w, b, y, stream);
        }
      });
}

template <typename T>
void backward_data_on(Device device, const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  on_device(
      device, [&] { kernels::cpu::conv2d_backward_data(g, dy, w, dx); },
      [&](auto stream) {
        check_float32_on_cuda<T>("conv2d backward");
        if constexpr (std::is_same_v<T, float>) {
          (use_vendor() ? kernels::vendor::conv2d_backward_data : kernels::cuda::conv2d_backward_data)(g, dy, w, dx,
                                                                                                      stream);
        }
      });
}

template <typename T>
void backward_weight_on(Device device, const Conv2dGeometry& g, const T* x, const T* dy, T* dw, T* db) {
  on_device(
      device, [&] { kernels::cpu::conv2d_backward_weight(g, x, dy, dw, db); },
      [&](auto stream) {
        check_float32_on_cuda<T>("conv2d backward");
        if constexpr (std::is_same_v<T, float>) {
          (use_vendor() ? kernels::vendor::conv2d_backward_weight : kernels::cuda::conv2d_backward_weight)(
              g, x, dy, dw, db, stream);
        }
      });
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
    const Device device = dy.device();
    Tensor dx, dw, db;
    if (need_x) dx = Tensor::empty({g.batch, g.in_channels, g.in_h, g.in_w}, dtype, device);
    if (need_w) {
      dw = Tensor::empty({g.out_channels, g.in_channels_per_group(), g.kernel_h, g.kernel_w}, dtype, device);
    }
    if (need_b) db = Tensor::empty({g.out_channels}, dtype, device);
    visit_compute_dtype(dtype, "conv2d backward", [&](auto v) {
      using T = decltype(v);
      if (need_x) backward_data_on(device, g, dy.device_data<T>(), weight.device_data<T>(), dx.device_data<T>());
      if (need_w) {
        backward_weight_on(device, g, x.device_data<T>(), dy.device_data<T>(), dw.device_data<T>(),
                           need_b ? db.device_data<T>() : nullptr);
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
  const Conv2dGeometry g = geometry(x, weight, stride, padding, dilation, groups);
  const Tensor cx = x.detach().contiguous();
  const Tensor cw = weight.detach().contiguous();
  const Tensor cb = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty({g.batch, g.out_channels, g.out_h(), g.out_w()}, x.dtype(), x.device());
  visit_compute_dtype(x.dtype(), "conv2d", [&](auto v) {
    using T = decltype(v);
    forward_on(x.device(), g, cx.device_data<T>(), cw.device_data<T>(), cb.defined() ? cb.device_data<T>() : nullptr,
               out.device_data<T>());
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
