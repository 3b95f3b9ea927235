#pragma once
// The CIFAR-style ResNet of He et al. 2016 (section 4.2), for small images such as CIFAR's 32x32
// or Fashion-MNIST's 28x28: a 3x3 convolution to 16 channels, three stages of n BasicBlocks with
// 16, 32 and 64 channels (the second and third start with stride 2), global average pooling and
// a linear head; depth 6n + 2 ("resnet8": n = 1, "resnet20": n = 3). Where a block changes the
// shape, its shortcut is a 1x1 convolution with batch norm (the paper's option B), so blocks are
// exactly torchvision's BasicBlock and state-dict names follow torchvision's ResNet: conv1, bn1,
// layer1.0.conv1, ..., layer2.0.downsample.0, fc. There is no max pool after the stem.
// Initialization as models/resnet.h: convolutions kaiming_normal_(fan_out, relu), batch norms
// weight 1 and bias 0, fc torch's Linear default.
#include <array>
#include <memory>

#include "models/model_options.h"
#include "nn/batch_norm2d.h"
#include "nn/conv2d.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sequential.h"

namespace graft::models {

class SmallResNet : public nn::Module {
 public:
  // depth: 6n + 2 for n >= 1 (8, 14, 20, 32, 44, 56, 110, ...). The input has
  // options.in_channels channels.
  SmallResNet(int depth, const ModelOptions& options);
  // x [N, in_channels, H, W] -> logits [N, num_classes], or features [N, 64] when headless.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SmallResNet"; }
  int64_t feature_size() const { return kStageChannels.back(); }

  static constexpr std::array<int64_t, 3> kStageChannels = {16, 32, 64};

 private:
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::ReLU> relu_;
  std::array<std::shared_ptr<nn::Sequential>, 3> layers_;
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool_;
  std::shared_ptr<nn::Module> fc_;  // Linear, or Identity when headless
};

}  // namespace graft::models
