#pragma once
// Argument checks shared by the hand-written CUDA convolutions (kernels/cuda/conv2d_*.cu) and the
// cuDNN baseline (kernels/vendor/cudnn_conv2d.cpp). Host code only: a bad geometry or a null
// pointer becomes std::invalid_argument naming the function and saying what to fix, before
// anything is launched (a bad pointer would fault on the GPU and poison the CUDA context).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/conv2d.h"

namespace graft::kernels::conv2d_checks {

[[noreturn]] inline void fail(const char* who, const std::string& what) {
  throw std::invalid_argument(std::string(who) + ": " + what);
}

inline int64_t x_elements(const Conv2dGeometry& g) { return g.batch * g.in_channels * g.in_h * g.in_w; }
inline int64_t y_elements(const Conv2dGeometry& g) { return g.batch * g.out_channels * g.out_h() * g.out_w(); }
inline int64_t w_elements(const Conv2dGeometry& g) {
  return g.out_channels * g.in_channels_per_group() * g.kernel_h * g.kernel_w;
}

// Sizes non-negative, kernel/stride/dilation/groups positive, channels divisible by groups, and an
// output of at least one pixel in each direction.
inline void check_geometry(const char* who, const Conv2dGeometry& g) {
  auto non_negative = [&](int64_t v, const char* name) {
    if (v < 0) fail(who, std::string(name) + " = " + std::to_string(v) + " must not be negative");
  };
  auto positive = [&](int64_t v, const char* name) {
    if (v <= 0) fail(who, std::string(name) + " = " + std::to_string(v) + " must be at least 1");
  };
  non_negative(g.batch, "batch");
  non_negative(g.in_channels, "in_channels");
  non_negative(g.out_channels, "out_channels");
  non_negative(g.in_h, "in_h");
  non_negative(g.in_w, "in_w");
  non_negative(g.pad_h, "pad_h");
  non_negative(g.pad_w, "pad_w");
  positive(g.kernel_h, "kernel_h");
  positive(g.kernel_w, "kernel_w");
  positive(g.stride_h, "stride_h");
  positive(g.stride_w, "stride_w");
  positive(g.dilation_h, "dilation_h");
  positive(g.dilation_w, "dilation_w");
  positive(g.groups, "groups");
  if (g.in_channels % g.groups != 0 || g.out_channels % g.groups != 0)
    fail(who, "in_channels = " + std::to_string(g.in_channels) + " and out_channels = " +
                  std::to_string(g.out_channels) + " must both be divisible by groups = " + std::to_string(g.groups));
  if (g.out_h() <= 0 || g.out_w() <= 0)
    fail(who, "the output would be " + std::to_string(g.out_h()) + " x " + std::to_string(g.out_w()) +
                  " pixels: the dilated kernel (" + std::to_string(g.dilation_h * (g.kernel_h - 1) + 1) + " x " +
                  std::to_string(g.dilation_w * (g.kernel_w - 1) + 1) + ") does not fit the padded " +
                  std::to_string(g.in_h + 2 * g.pad_h) + " x " + std::to_string(g.in_w + 2 * g.pad_w) +
                  " input; reduce the kernel or dilation, or pad more");
}

// Throws unless `p` is non-null or the buffer it names is empty (`elements` == 0).
inline void check_pointer(const char* who, const void* p, const char* name, int64_t elements) {
  if (p == nullptr && elements > 0)
    fail(who, std::string(name) + " is null but holds " + std::to_string(elements) + " elements");
}

}  // namespace graft::kernels::conv2d_checks
