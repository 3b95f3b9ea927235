#include "nn/conv2d.h"

#include "core/ops/ops.h"
#include "nn/default_init.h"

namespace graft::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options,
               Generator& generator)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size), options_(options) {
  GRAFT_CHECK(options.groups >= 1 && in_channels >= 1 && out_channels >= 1 && in_channels % options.groups == 0 &&
                  out_channels % options.groups == 0,
              "Conv2d: in_channels (", in_channels, ") and out_channels (", out_channels,
              ") must be positive multiples of groups (", options.groups, ")");
  GRAFT_CHECK(kernel_size.height >= 1 && kernel_size.width >= 1, "Conv2d: kernel_size must be positive, got (",
              kernel_size.height, ", ", kernel_size.width, ")");
  weight_ = register_parameter(
      "weight", Tensor::zeros({out_channels, in_channels / options.groups, kernel_size.height, kernel_size.width}));
  if (options.bias) bias_ = register_parameter("bias", Tensor::zeros({out_channels}));
  default_init(weight_, bias_, generator);
}

Tensor Conv2d::forward(const Tensor& x) {
  return ops::conv2d(x, weight_, bias_, options_.stride.pair(), options_.padding.pair(), options_.dilation.pair(),
                     options_.groups);
}

int64_t Conv2d::flops(const Shape& input, const Shape& output) const {
  // Each output element is a dot product of C_in / groups * KH * KW pairs.
  return 2 * shape_numel(output) * weight_.size(1) * weight_.size(2) * weight_.size(3);
}

}  // namespace graft::nn
