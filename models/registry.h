#pragma once
// The model registry: torchvision's names for the 13 ImageNet architectures, and the small
// CIFAR-style ResNets for small images.
//   auto model = models::create("resnet50", {.num_classes = 10});
//   auto small = models::create("resnet8", {.num_classes = 5, .in_channels = 1});
#include <memory>
#include <string>
#include <vector>

#include "models/model_options.h"
#include "nn/module.h"

namespace graft::models {

// resnet18, resnet34, resnet50, resnet101, resnet152, vgg11, vgg13, vgg16, vgg19, vgg11_bn,
// vgg13_bn, vgg16_bn, vgg19_bn: the architectures with published ImageNet weights.
const std::vector<std::string>& names();

// resnet8 and resnet20 (models/small_resnet.h): no published weights; any in_channels.
const std::vector<std::string>& small_names();

// names() followed by small_names(): every name create accepts.
const std::vector<std::string>& all_names();

// A freshly initialized model; an unknown name is an Error listing the valid ones, and so is an
// in_channels other than 3 for a torchvision architecture.
std::shared_ptr<nn::Module> create(const std::string& name, const ModelOptions& options = {});

}  // namespace graft::models
