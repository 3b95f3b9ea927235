#include "models/vgg.h"

#include <vector>

#include "core/error.h"
#include "nn/batch_norm2d.h"
#include "nn/conv2d.h"
#include "nn/default_init.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/relu.h"

namespace graft::models {
namespace {

constexpr int64_t kPool = 0;  // a max pool in a configuration; other entries are conv widths

// torchvision's configurations "A", "B", "D" and "E".
std::vector<int64_t> configuration(int depth) {
  switch (depth) {
    case 11: return {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};
    case 13: return {64, 64, kPool, 128, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};
    case 16:
      return {64, 64, kPool, 128, 128, kPool, 256, 256, 256, kPool, 512, 512, 512, kPool, 512, 512, 512, kPool};
    case 19:
      return {64,  64,  kPool, 128, 128, kPool, 256, 256, 256, 256, kPool,
              512, 512, 512,   512, kPool, 512, 512, 512, 512, kPool};
    default: fail("VGG: depth ", depth, " is not one of 11, 13, 16, 19");
  }
}

std::shared_ptr<nn::Sequential> make_features(int depth, bool batch_norm) {
  auto features = std::make_shared<nn::Sequential>();
  int64_t channels = 3;
  for (const int64_t width : configuration(depth)) {
    if (width == kPool) {
      features->push_back(std::make_shared<nn::MaxPool2d>(2, nn::MaxPool2dOptions{.stride = 2}));
      continue;
    }
    features->push_back(std::make_shared<nn::Conv2d>(channels, width, 3, nn::Conv2dOptions{.padding = 1}));
    if (batch_norm) features->push_back(std::make_shared<nn::BatchNorm2d>(width));
    features->push_back(std::make_shared<nn::ReLU>());
    channels = width;
  }
  return features;
}

// Headless: indices 0..4, ending with the second ReLU.
std::shared_ptr<nn::Sequential> make_classifier(const ModelOptions& options) {
  auto classifier = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(512 * 7 * 7, 4096), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(4096, 4096),
      std::make_shared<nn::ReLU>()});
  if (!options.headless) {
    classifier->push_back(std::make_shared<nn::Dropout>(0.5));
    classifier->push_back(std::make_shared<nn::Linear>(4096, options.num_classes));
  }
  return classifier;
}

}  // namespace

VGG::VGG(int depth, bool batch_norm, const ModelOptions& options) {
  GRAFT_CHECK(options.headless || options.num_classes >= 1, "VGG: num_classes must be positive, got ",
              options.num_classes);
  const bool initialize = options.initialize && nn::init_enabled();
  {
    // Every convolution and linear gets torchvision's initialization below: skip the layers'
    // default one (half the time of building a VGG).
    nn::SkipInitGuard skip_init;
    features_ = register_module("features", make_features(depth, batch_norm));
    avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(7));
    classifier_ = register_module("classifier", make_classifier(options));
  }

  if (!initialize) return;
  Generator& generator = options.init_generator();
  apply([&](nn::Module& module) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&module)) {
      Tensor weight = conv->weight();
      init::kaiming_normal_(weight, 0.0, init::FanMode::fan_out, generator);
    } else if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
      Tensor weight = linear->weight();
      init::normal_(weight, 0.0, 0.01, generator);
    }
  });
}

Tensor VGG::forward(const Tensor& x) { return (*classifier_)((*avgpool_)((*features_)(x)).flatten(1)); }

}  // namespace graft::models
