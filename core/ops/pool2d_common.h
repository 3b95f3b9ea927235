#pragma once
// Shared by max_pool2d.cpp and avg_pool2d.cpp: the argument checks and PyTorch's output-size
// rule for sliding-window 2-D pooling.
#include "core/ops/checks.h"
#include "core/ops/ops.h"
#include "kernels/pool2d.h"

namespace graft::ops {

// Output length along one axis (PyTorch's pooling_output_shape). `span` = the padded input minus
// the dilated kernel, checked non-negative by the caller. With ceil_mode a last, partial window is
// kept only when it starts inside the input or the left padding.
inline int64_t pool2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                  bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  int64_t out = (ceil_mode ? span + stride - 1 : span) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Checks x [N, C, H, W] and the window arguments and returns the geometry for the kernels.
// A stride of 0 means the kernel size; padding may be at most half the kernel (as in PyTorch).
inline kernels::Pool2dGeometry pool2d_geometry(const char* op, const Tensor& x, Size2 kernel, Size2 stride,
                                               Size2 padding, Size2 dilation, bool ceil_mode) {
  check_float(x, op, "x");
  check_dim(x, 4, op, "x", "[N, C, H, W] (or 3-D [C, H, W])");
  const auto str = [](Size2 s) { return shape_str({s[0], s[1]}); };
  for (int axis = 0; axis < 2; ++axis) {
    GRAFT_CHECK(kernel[axis] >= 1, op, ": kernel_size must be positive, got ", str(kernel));
    GRAFT_CHECK(stride[axis] >= 0, op, ": stride must be positive (or 0 for stride = kernel_size), got ",
                str(stride));
    GRAFT_CHECK(dilation[axis] >= 1, op, ": dilation must be positive, got ", str(dilation));
    GRAFT_CHECK(padding[axis] >= 0 && padding[axis] <= kernel[axis] / 2, op,
                ": padding must be between 0 and half the kernel size, got padding ", str(padding),
                " for kernel_size ", str(kernel));
    if (stride[axis] == 0) stride[axis] = kernel[axis];
  }
  GRAFT_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": argument 'x' has an empty spatial size, shape ",
              shape_str(x.shape()));
  kernels::Pool2dGeometry g;
  g.planes = x.size(0) * x.size(1);
  g.in_h = x.size(2);
  g.in_w = x.size(3);
  g.kernel_h = kernel[0];
  g.kernel_w = kernel[1];
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.pad_h = padding[0];
  g.pad_w = padding[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  const int64_t window_h = dilation[0] * (kernel[0] - 1) + 1, window_w = dilation[1] * (kernel[1] - 1) + 1;
  GRAFT_CHECK(window_h <= g.in_h + 2 * g.pad_h && window_w <= g.in_w + 2 * g.pad_w, op, ": the window ",
              window_h, "x", window_w, " (kernel_size ", str(kernel),
              " with dilation) is larger than the padded input ", g.in_h + 2 * g.pad_h, "x",
              g.in_w + 2 * g.pad_w, " of x with shape ", shape_str(x.shape()),
              "; use a smaller kernel or more padding");
  g.out_h = pool2d_output_size(g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, ceil_mode);
  g.out_w = pool2d_output_size(g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, ceil_mode);
  return g;
}

}  // namespace graft::ops
