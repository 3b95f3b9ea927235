#pragma once
// The model registry: torchvision's names for the 13 architectures.
//   auto model = models::create("resnet50", {.num_classes = 10});
#include <memory>
#include <string>
#include <vector>

#include "models/model_options.h"
#include "nn/module.h"

namespace graft::models {

// resnet18, resnet34, resnet50, resnet101, resnet152, vgg11, vgg13, vgg16, vgg19, vgg11_bn,
// vgg13_bn, vgg16_bn, vgg19_bn.
const std::vector<std::string>& names();

// A freshly initialized model; an unknown name is an Error listing the valid ones.
std::shared_ptr<nn::Module> create(const std::string& name, const ModelOptions& options = {});

}  // namespace graft::models
