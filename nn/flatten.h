#pragma once
// Flatten: merges dims start_dim..end_dim into one (torch.nn.Flatten; default [N, ...] -> [N, -1]).
#include "nn/module.h"

namespace graft::nn {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim_, end_dim_); }
  std::string type_name() const override { return "Flatten"; }

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace graft::nn
