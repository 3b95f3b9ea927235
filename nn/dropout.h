#pragma once
// Dropout: in training mode zeroes each element with probability p and scales the others by
// 1 / (1 - p); the identity in evaluation mode (torch.nn.Dropout). Draws from `generator`.
#include "core/rng.h"
#include "nn/module.h"

namespace graft::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator& generator = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  double p() const { return p_; }

 private:
  double p_;
  Generator* generator_;
};

}  // namespace graft::nn
