#pragma once
// VGG (Simonyan & Zisserman 2014) as torchvision builds it: `features` (3x3 convolutions with
// bias, optionally each followed by batch norm, ReLU, and 2x2 max pools), `avgpool`
// (AdaptiveAvgPool2d to 7x7, so any input of at least 32x32 works) and `classifier`
// (Linear 25088->4096, ReLU, Dropout, Linear 4096->4096, ReLU, Dropout, Linear 4096->classes).
// Indices inside the Sequentials are torchvision's, so its checkpoints load as they are.
// Initialization as torchvision: convolutions kaiming_normal_(fan_out, relu) with zero bias,
// batch norms weight 1 and bias 0, linears N(0, 0.01) with zero bias.
#include <memory>

#include "models/model_options.h"
#include "nn/pooling.h"
#include "nn/sequential.h"

namespace graft::models {

class VGG : public nn::Module {
 public:
  // depth: 11, 13, 16 or 19.
  VGG(int depth, bool batch_norm, const ModelOptions& options);
  // x [N, 3, H, W] (H, W >= 32) -> logits [N, num_classes], or features [N, 4096] when headless.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "VGG"; }

 private:
  std::shared_ptr<nn::Sequential> features_;
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool_;
  std::shared_ptr<nn::Sequential> classifier_;
};

}  // namespace graft::models
