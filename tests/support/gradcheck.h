#pragma once
// Numerical gradient check in float64: compares the autograd gradient of
//   L(inputs) = sum(fn(inputs) * w),  w a fixed random tensor of the output's shape,
// with central finite differences (L(x + eps) - L(x - eps)) / (2 eps) for every element of every
// input that requires grad. Inputs must be float64 tensors.
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace graft::testing {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
};

::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                     const std::vector<Tensor>& inputs, GradcheckOptions options = {});

// A float64 CPU tensor of standard-normal values with requires_grad set (for gradcheck inputs).
Tensor random_input(const Shape& shape, uint64_t seed, bool requires_grad = true);

}  // namespace graft::testing
