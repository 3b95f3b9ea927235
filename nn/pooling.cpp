#include "nn/pooling.h"

#include "core/ops/ops.h"

namespace graft::nn {

MaxPool2d::MaxPool2d(Size2 kernel_size, MaxPool2dOptions options) : kernel_size_(kernel_size), options_(options) {}

Tensor MaxPool2d::forward(const Tensor& x) {
  return ops::max_pool2d(x, kernel_size_.pair(), options_.stride.value_or(kernel_size_).pair(),
                         options_.padding.pair(), options_.dilation.pair(), options_.ceil_mode);
}

AvgPool2d::AvgPool2d(Size2 kernel_size, AvgPool2dOptions options) : kernel_size_(kernel_size), options_(options) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  return ops::avg_pool2d(x, kernel_size_.pair(), options_.stride.value_or(kernel_size_).pair(),
                         options_.padding.pair(), options_.ceil_mode, options_.count_include_pad);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return ops::adaptive_avg_pool2d(x, output_size_.pair()); }

}  // namespace graft::nn
