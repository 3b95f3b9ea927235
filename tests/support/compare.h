#pragma once
// Element-wise comparison of two tensors with a tolerance relative to the reference's scale.
#include <string>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace graft::testing {

// Passes when shapes match and every |actual - expected| <= atol + rtol * max|expected|
// (NaN matches NaN). The failure message names `what`, the worst index and both values.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double atol,
                                     double rtol, const std::string& what = "tensor");

}  // namespace graft::testing
