// ops::relu: numerical gradients in float64, forward and gradient against PyTorch in float32,
// NaN handling, and argument errors.
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

using testing::Inputs;

TEST(ReluOp, GradientsMatchNumerical) {
  const auto relu = [](const std::vector<Tensor>& in) { return ops::relu(in[0]); };
  // Standard-normal inputs: no element lies within eps of the kink at 0.
  EXPECT_TRUE(testing::gradcheck(relu, {testing::random_input({3, 5, 7}, 1)}));
  EXPECT_TRUE(testing::gradcheck(relu, {testing::random_input({11}, 2)}));
  // A non-contiguous input.
  EXPECT_TRUE(testing::gradcheck([](const std::vector<Tensor>& in) { return ops::relu(in[0].t()); },
                                 {testing::random_input({4, 3}, 3)}));
}

TEST(ReluOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(10);
  testing::expect_matches_torch({{"x", randn({4, 7, 5, 3}, gen).set_requires_grad(true)}}, "F.relu(x)",
                                [](const Inputs& in) { return ops::relu(in.at("x")); },
                                {.atol = 0, .rtol = 0});
}

TEST(ReluOp, KeepsNaNAndZeroesNegatives) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = Tensor::from_vector<double>({-2.0, 0.0, 3.0, nan, -0.5}, {5});
  const std::vector<double> y = ops::relu(x).to_vector<double>();
  EXPECT_EQ(y[0], 0.0);
  EXPECT_EQ(y[1], 0.0);
  EXPECT_EQ(y[2], 3.0);
  EXPECT_TRUE(std::isnan(y[3]));
  EXPECT_EQ(y[4], 0.0);
}

TEST(ReluOp, GradientIsZeroAtAndBelowZero) {
  Tensor x = Tensor::from_vector<float>({-1.0f, 0.0f, 2.0f}, {3}).set_requires_grad(true);
  ops::relu(x).backward(Tensor::full({3}, 5.0));
  EXPECT_TRUE(testing::all_close(x.grad(), Tensor::from_vector<float>({0.0f, 0.0f, 5.0f}, {3}), 0, 0, "dx"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "relu", fragment);
}

TEST(ReluOp, RejectsBadArguments) {
  expect_error([] { ops::relu(Tensor::zeros({3}, DType::i64)); }, "int64");
  expect_error([] { ops::relu(Tensor()); }, "undefined");
}

}  // namespace
}  // namespace graft
