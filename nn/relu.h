#pragma once
// ReLU: max(x, 0) elementwise (torch.nn.ReLU; graft never computes in place).
#include "core/ops/ops.h"
#include "nn/module.h"

namespace graft::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

}  // namespace graft::nn
