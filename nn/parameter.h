#pragma once
// Parameter: a module's trainable tensor. It is a Tensor handle to a leaf that requires grad;
// freeze it with set_requires_grad(false) (or Module::set_requires_grad for a whole subtree).
#include "core/tensor.h"

namespace graft::nn {

class Parameter : public Tensor {
 public:
  Parameter() = default;
  // A new leaf sharing `value`'s storage (its autograd history, if any, is dropped).
  explicit Parameter(const Tensor& value) : Tensor(value.detach()) { set_requires_grad(true); }
};

}  // namespace graft::nn
