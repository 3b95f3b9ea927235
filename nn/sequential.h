#pragma once
// Sequential: applies its children in order (torch.nn.Sequential). Children are named by their
// index, "0", "1", ..., so a VGG's third convolution's weight is "features.7.weight".
#include <memory>
#include <vector>

#include "nn/module.h"

namespace graft::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);

  // Appends `module` under the next index.
  void push_back(std::shared_ptr<Module> module);
  size_t size() const { return named_children().size(); }
  std::shared_ptr<Module> operator[](size_t index) const;

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace graft::nn
