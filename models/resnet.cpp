#include "models/resnet.h"

#include <optional>

#include "core/error.h"
#include "nn/default_init.h"
#include "nn/identity.h"
#include "nn/linear.h"

namespace graft::models {
namespace {

using nn::BatchNorm2d;
using nn::Conv2d;
using nn::Sequential;

std::shared_ptr<Conv2d> conv3x3(int64_t in, int64_t out, int64_t stride) {
  return std::make_shared<Conv2d>(in, out, 3, nn::Conv2dOptions{.stride = stride, .padding = 1, .bias = false});
}

std::shared_ptr<Conv2d> conv1x1(int64_t in, int64_t out, int64_t stride) {
  return std::make_shared<Conv2d>(in, out, 1, nn::Conv2dOptions{.stride = stride, .bias = false});
}

// The projection of a block's input for the residual sum; null when the shapes already match.
std::shared_ptr<Sequential> make_downsample(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return nullptr;
  return std::make_shared<Sequential>(
      std::vector<std::shared_ptr<nn::Module>>{conv1x1(in, out, stride), std::make_shared<BatchNorm2d>(out)});
}

struct Architecture {
  bool bottleneck;
  std::array<int64_t, 4> blocks;  // per stage
};

Architecture architecture(int depth) {
  switch (depth) {
    case 18: return {false, {2, 2, 2, 2}};
    case 34: return {false, {3, 4, 6, 3}};
    case 50: return {true, {3, 4, 6, 3}};
    case 101: return {true, {3, 4, 23, 3}};
    case 152: return {true, {3, 8, 36, 3}};
    default: fail("ResNet: depth ", depth, " is not one of 18, 34, 50, 101, 152");
  }
}

}  // namespace

BasicBlock::BasicBlock(int64_t in_channels, int64_t planes, int64_t stride) {
  conv1_ = register_module("conv1", conv3x3(in_channels, planes, stride));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  relu_ = register_module("relu", std::make_shared<nn::ReLU>());
  conv2_ = register_module("conv2", conv3x3(planes, planes, 1));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  downsample_ = make_downsample(in_channels, planes * expansion, stride);
  if (downsample_) register_module("downsample", downsample_);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = (*relu_)((*bn1_)((*conv1_)(x)));
  out = (*bn2_)((*conv2_)(out));
  const Tensor identity = downsample_ ? (*downsample_)(x) : x;
  return (*relu_)(out + identity);
}

Bottleneck::Bottleneck(int64_t in_channels, int64_t planes, int64_t stride) {
  conv1_ = register_module("conv1", conv1x1(in_channels, planes, 1));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2_ = register_module("conv2", conv3x3(planes, planes, stride));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  conv3_ = register_module("conv3", conv1x1(planes, planes * expansion, 1));
  bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(planes * expansion));
  relu_ = register_module("relu", std::make_shared<nn::ReLU>());
  downsample_ = make_downsample(in_channels, planes * expansion, stride);
  if (downsample_) register_module("downsample", downsample_);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = (*relu_)((*bn1_)((*conv1_)(x)));
  out = (*relu_)((*bn2_)((*conv2_)(out)));
  out = (*bn3_)((*conv3_)(out));
  const Tensor identity = downsample_ ? (*downsample_)(x) : x;
  return (*relu_)(out + identity);
}

template <class Block>
std::shared_ptr<Sequential> ResNet::make_layer(int64_t planes, int64_t blocks, int64_t stride) {
  auto layer = std::make_shared<Sequential>();
  for (int64_t i = 0; i < blocks; ++i) {
    layer->push_back(std::make_shared<Block>(in_channels_, planes, i == 0 ? stride : 1));
    in_channels_ = planes * Block::expansion;
  }
  return layer;
}

ResNet::ResNet(int depth, const ModelOptions& options) {
  const Architecture arch = architecture(depth);
  GRAFT_CHECK(options.headless || options.num_classes >= 1, "ResNet: num_classes must be positive, got ",
              options.num_classes);
  const bool initialize = options.initialize && nn::init_enabled();
  Generator& generator = options.init_generator();
  {
    // Every convolution gets torchvision's initialization below: skip the layers' default one.
    nn::SkipInitGuard skip_init;
    conv1_ = register_module(
        "conv1", std::make_shared<Conv2d>(3, 64, 7, nn::Conv2dOptions{.stride = 2, .padding = 3, .bias = false}));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(64));
    relu_ = register_module("relu", std::make_shared<nn::ReLU>());
    maxpool_ =
        register_module("maxpool", std::make_shared<nn::MaxPool2d>(3, nn::MaxPool2dOptions{.stride = 2, .padding = 1}));
    const int64_t planes[4] = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; ++stage) {
      const int64_t stride = stage == 0 ? 1 : 2;
      layers_[stage] = arch.bottleneck ? make_layer<Bottleneck>(planes[stage], arch.blocks[stage], stride)
                                       : make_layer<BasicBlock>(planes[stage], arch.blocks[stage], stride);
      register_module("layer" + std::to_string(stage + 1), layers_[stage]);
    }
    avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  }
  feature_size_ = in_channels_;
  if (options.headless) {
    fc_ = register_module("fc", std::make_shared<nn::Identity>());
  } else {
    // fc keeps Linear's default initialization (drawn here unless initialization is off).
    std::optional<nn::SkipInitGuard> skip_init;
    if (!initialize) skip_init.emplace();
    fc_ = register_module("fc", std::make_shared<nn::Linear>(feature_size_, options.num_classes, true, generator));
  }

  if (!initialize) return;
  apply([&](nn::Module& module) {
    if (auto* conv = dynamic_cast<Conv2d*>(&module)) {
      Tensor weight = conv->weight();
      init::kaiming_normal_(weight, 0.0, init::FanMode::fan_out, generator);
    }
  });
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor y = (*maxpool_)((*relu_)((*bn1_)((*conv1_)(x))));
  for (const auto& layer : layers_) y = (*layer)(y);
  return (*fc_)((*avgpool_)(y).flatten(1));
}

}  // namespace graft::models
