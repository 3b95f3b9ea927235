#pragma once
// Conv2d: 2-D convolution over [N, C_in, H, W] (torch.nn.Conv2d, zero padding).
// Parameters: weight [C_out, C_in / groups, KH, KW] and, with bias, bias [C_out]. Initialized as
// torch does: kaiming_uniform_(a = sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// for the bias.
#include "core/rng.h"
#include "nn/module.h"
#include "nn/size2.h"

namespace graft::nn {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options = {},
         Generator& generator = default_generator());

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  int64_t flops(const Shape& input, const Shape& output) const override;

  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }  // undefined without bias
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  Size2 kernel_size() const { return kernel_size_; }
  const Conv2dOptions& options() const { return options_; }

 private:
  int64_t in_channels_, out_channels_;
  Size2 kernel_size_;
  Conv2dOptions options_;
  Parameter weight_, bias_;
};

}  // namespace graft::nn
