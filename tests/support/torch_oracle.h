#pragma once
// Compares a graft computation with the same computation in PyTorch, forward and backward.
//
//   expect_matches_torch({{"x", x}, {"w", w}}, "F.conv2d(x, w, stride=2)",
//                        [](const Inputs& in) { return ops::conv2d(in.at("x"), in.at("w"), {}, {2, 2}); });
//
// The inputs (graft tensors, any that require grad get gradients) are written to a file; the
// script tests/oracle/torch_eval.py evaluates the Python expression on them with oracle_python()
// (names bound to torch tensors; `torch` and `F` = torch.nn.functional in scope), backpropagates
// the same random upstream gradient, and writes the output, every input gradient and every input's
// final value (for ops that update inputs in place, e.g. running statistics). The test then
// compares each with graft's, with tolerance atol + rtol * max|torch value| per tensor.
// When that Python or its torch is missing, the test is skipped with the reason printed.
#include <functional>
#include <map>
#include <string>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace graft::testing {

using Inputs = std::map<std::string, Tensor>;

struct Tolerance {
  double atol = 1e-5;
  double rtol = 1e-4;  // relative to the largest magnitude in the reference tensor
};

// Returns false (after GTEST_SKIP-style reporting through the caller) when torch is unavailable.
bool torch_available(std::string* reason);

// Runs the check. Use inside a TEST: a missing torch makes the calling test skip.
#define GRAFT_REQUIRE_TORCH()                                              \
  do {                                                                     \
    std::string reason_;                                                   \
    if (!::graft::testing::torch_available(&reason_)) GTEST_SKIP() << reason_; \
  } while (0)

void expect_matches_torch(const Inputs& inputs, const std::string& torch_expression,
                          const std::function<Tensor(const Inputs&)>& graft_fn,
                          Tolerance tolerance = {});

}  // namespace graft::testing
