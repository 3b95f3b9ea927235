#pragma once
// ResNet (He et al. 2015) as torchvision builds it, v1.5: in a Bottleneck the stride sits on the
// 3x3 convolution. Module and parameter names are torchvision's ("layer2.0.downsample.0.weight"),
// so its checkpoints load as they are. Initialization as torchvision: convolutions
// kaiming_normal_(fan_out, relu), batch norms weight 1 and bias 0, fc torch's Linear default.
#include <array>
#include <memory>

#include "models/model_options.h"
#include "nn/batch_norm2d.h"
#include "nn/conv2d.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sequential.h"

namespace graft::models {

// Two 3x3 convolutions (ResNet-18/34). downsample (conv1x1 + batch norm, or absent) brings the
// input to the output's shape for the residual sum.
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  // Weights start as the layers' defaults; ResNet replaces them with torchvision's initialization.
  BasicBlock(int64_t in_channels, int64_t planes, int64_t stride);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::ReLU> relu_;
  std::shared_ptr<nn::Sequential> downsample_;  // null when the shapes already match
};

// 1x1 reduce, 3x3 (with the stride), 1x1 expand to planes * 4 (ResNet-50/101/152).
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t in_channels, int64_t planes, int64_t stride);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Bottleneck"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_, bn3_;
  std::shared_ptr<nn::ReLU> relu_;
  std::shared_ptr<nn::Sequential> downsample_;
};

class ResNet : public nn::Module {
 public:
  // depth: 18, 34, 50, 101 or 152.
  ResNet(int depth, const ModelOptions& options);
  // x [N, 3, H, W] -> logits [N, num_classes], or features [N, feature_size()] when headless.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResNet"; }
  int64_t feature_size() const { return feature_size_; }

 private:
  template <class Block>
  std::shared_ptr<nn::Sequential> make_layer(int64_t planes, int64_t blocks, int64_t stride);

  int64_t in_channels_ = 64;  // of the next block made by make_layer
  int64_t feature_size_ = 0;
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::ReLU> relu_;
  std::shared_ptr<nn::MaxPool2d> maxpool_;
  std::array<std::shared_ptr<nn::Sequential>, 4> layers_;
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool_;
  std::shared_ptr<nn::Module> fc_;  // Linear, or Identity when headless
};

}  // namespace graft::models
