#pragma once
// Identity: returns its input (torch.nn.Identity), e.g. in place of a removed classifier head.
#include "nn/module.h"

namespace graft::nn {

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

}  // namespace graft::nn
