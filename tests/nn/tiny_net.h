#pragma once
// A small network for the nn tests: an own parameter registered after the children (torch lists
// a module's own entries first anyway), a convolution, a batch norm, and a Sequential head.
#include <memory>

#include "core/ops/ops.h"
#include "nn/nn.h"

namespace graft::testing {

class TinyNet : public nn::Module {
 public:
  explicit TinyNet(Generator& generator, int64_t classes = 3) {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(2, 4, 3, nn::Conv2dOptions{.padding = 1, .bias = false},
                                                                 generator));
    bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(4));
    head = register_module("head", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                                       std::make_shared<nn::AdaptiveAvgPool2d>(1), std::make_shared<nn::Flatten>(),
                                       std::make_shared<nn::Linear>(4, classes, true, generator)}));
    scale = register_parameter("scale", Tensor::full({1}, 2.0));
  }

  Tensor forward(const Tensor& x) override { return (*head)(ops::relu((*bn)((*conv)(x)))) * scale; }
  std::string type_name() const override { return "TinyNet"; }

  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
  std::shared_ptr<nn::Sequential> head;
  nn::Parameter scale;
};

}  // namespace graft::testing
