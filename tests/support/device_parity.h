#pragma once
// The check every op's GPU path gets: run it on the CPU and on the GPU from the same inputs,
// backpropagate the same upstream gradient through both, and compare the outputs and every
// input's gradient. The CPU result is the reference (DESIGN.md: the CPU twin is the oracle).
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace graft::testing {

struct DeviceParityTolerance {
  double atol = 1e-5;
  double rtol = 1e-5;  // relative to the largest magnitude of the CPU result
};

// `inputs` are CPU tensors; those with requires_grad get their gradients compared. fn must build
// its result only from its arguments (constants it makes must go to the arguments' device).
::testing::AssertionResult same_on_gpu(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                       const std::vector<Tensor>& inputs, DeviceParityTolerance tolerance = {});

// A float32 CPU tensor of standard-normal values from `seed`.
Tensor random_tensor(const Shape& shape, uint64_t seed, bool requires_grad = false);

}  // namespace graft::testing
