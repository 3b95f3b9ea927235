#include "models/small_resnet.h"

#include <optional>

#include "core/error.h"
#include "models/resnet.h"
#include "nn/default_init.h"
#include "nn/identity.h"
#include "nn/linear.h"

namespace graft::models {

SmallResNet::SmallResNet(int depth, const ModelOptions& options) {
  GRAFT_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "SmallResNet: depth ", depth,
              " is not 6n + 2 for some n >= 1 (e.g. 8, 20, 32, 44, 56)");
  GRAFT_CHECK(options.headless || options.num_classes >= 1, "SmallResNet: num_classes must be positive, got ",
              options.num_classes);
  GRAFT_CHECK(options.in_channels >= 1, "SmallResNet: in_channels must be positive, got ", options.in_channels);
  const int64_t blocks = (depth - 2) / 6;
  const bool initialize = options.initialize && nn::init_enabled();
  Generator& generator = options.init_generator();
  {
    // Every convolution gets the initialization below: skip the layers' default one.
    nn::SkipInitGuard skip_init;
    conv1_ = register_module(
        "conv1", std::make_shared<nn::Conv2d>(options.in_channels, kStageChannels[0], 3,
                                              nn::Conv2dOptions{.stride = 1, .padding = 1, .bias = false}));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(kStageChannels[0]));
    relu_ = register_module("relu", std::make_shared<nn::ReLU>());
    int64_t in_channels = kStageChannels[0];
    for (size_t stage = 0; stage < layers_.size(); ++stage) {
      auto layer = std::make_shared<nn::Sequential>();
      for (int64_t i = 0; i < blocks; ++i) {
        const int64_t stride = stage > 0 && i == 0 ? 2 : 1;
        layer->push_back(std::make_shared<BasicBlock>(in_channels, kStageChannels[stage], stride));
        in_channels = kStageChannels[stage];
      }
      layers_[stage] = register_module("layer" + std::to_string(stage + 1), layer);
    }
    avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  }
  if (options.headless) {
    fc_ = register_module("fc", std::make_shared<nn::Identity>());
  } else {
    std::optional<nn::SkipInitGuard> skip_init;
    if (!initialize) skip_init.emplace();
    fc_ = register_module("fc", std::make_shared<nn::Linear>(feature_size(), options.num_classes, true, generator));
  }

  if (!initialize) return;
  apply([&](nn::Module& module) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&module)) {
      Tensor weight = conv->weight();
      init::kaiming_normal_(weight, 0.0, init::FanMode::fan_out, generator);
    }
  });
}

Tensor SmallResNet::forward(const Tensor& x) {
  GRAFT_CHECK(x.dim() == 4 && x.size(1) == conv1_->in_channels(), "SmallResNet: expected input [N, ",
              conv1_->in_channels(), ", H, W], got ", shape_str(x.shape()),
              "; build the model with ModelOptions::in_channels matching your images");
  Tensor y = (*relu_)((*bn1_)((*conv1_)(x)));
  for (const auto& layer : layers_) y = (*layer)(y);
  return (*fc_)((*avgpool_)(y).flatten(1));
}

}  // namespace graft::models
