#pragma once
// Linear: y = x @ weight^T + bias over x [..., in_features] (torch.nn.Linear). Parameters:
// weight [out_features, in_features] and, with bias, bias [out_features], initialized as torch
// does (see default_init.h).
#include "core/rng.h"
#include "nn/module.h"

namespace graft::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& generator = default_generator());

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  int64_t flops(const Shape& input, const Shape& output) const override;

  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }  // undefined without bias
  int64_t in_features() const { return weight_.size(1); }
  int64_t out_features() const { return weight_.size(0); }

 private:
  Parameter weight_, bias_;
};

}  // namespace graft::nn
