#pragma once
// Shared by the CPU and CUDA convolution kernel tests: a geometry written on one line.
#include <cstdint>

#include "kernels/conv2d.h"

namespace graft::kernels::testing {

inline Conv2dGeometry geometry(int64_t batch, int64_t in_c, int64_t out_c, int64_t in_h, int64_t in_w, int64_t k_h,
                               int64_t k_w, int64_t stride_h = 1, int64_t stride_w = 1, int64_t pad_h = 0,
                               int64_t pad_w = 0, int64_t dil_h = 1, int64_t dil_w = 1, int64_t groups = 1) {
  Conv2dGeometry g;
  g.batch = batch, g.in_channels = in_c, g.out_channels = out_c, g.in_h = in_h, g.in_w = in_w;
  g.kernel_h = k_h, g.kernel_w = k_w, g.stride_h = stride_h, g.stride_w = stride_w;
  g.pad_h = pad_h, g.pad_w = pad_w, g.dilation_h = dil_h, g.dilation_w = dil_w, g.groups = groups;
  return g;
}

}  // namespace graft::kernels::testing
