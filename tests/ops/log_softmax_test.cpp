// ops::log_softmax: numerical gradients in float64 over every dimension of several ranks, values
// and gradients against PyTorch in float32 (including large logits and strided inputs), and
// argument errors.
#include <cmath>
#include <functional>
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
using testing::random_input;

std::function<Tensor(const std::vector<Tensor>&)> log_softmax_along(int64_t dim) {
  return [dim](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], dim); };
}

TEST(LogSoftmaxOp, GradientsMatchNumerical) {
  EXPECT_TRUE(testing::gradcheck(log_softmax_along(0), {random_input({7}, 1)}));
  EXPECT_TRUE(testing::gradcheck(log_softmax_along(1), {random_input({3, 5}, 2)}));
  EXPECT_TRUE(testing::gradcheck(log_softmax_along(0), {random_input({3, 5}, 3)}));
  EXPECT_TRUE(testing::gradcheck(log_softmax_along(1), {random_input({2, 3, 5}, 4)}));
  EXPECT_TRUE(testing::gradcheck(log_softmax_along(-1), {random_input({2, 1, 3, 3}, 5)}));
  EXPECT_TRUE(testing::gradcheck(log_softmax_along(1), {random_input({2, 1, 3}, 6)}));  // dim of size 1
}

TEST(LogSoftmaxOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(20);
  const auto randn_grad = [&](const Shape& shape, double scale = 1.0) {
    return (randn(shape, gen) * scale).detach().set_requires_grad(true);
  };
  const auto along = [](int64_t dim) {
    return [dim](const Inputs& in) { return ops::log_softmax(in.at("x"), dim); };
  };
  const testing::Tolerance tolerance{.atol = 1e-5, .rtol = 1e-5};
  // Classifier logits: [batch, classes].
  testing::expect_matches_torch({{"x", randn_grad({9, 1000})}}, "F.log_softmax(x, 1)", along(1), tolerance);
  // A middle dimension with more than one tile of inner columns (inner = 70).
  testing::expect_matches_torch({{"x", randn_grad({3, 11, 70})}}, "F.log_softmax(x, -2)", along(-2), tolerance);
  // The leading dimension of a 4-D tensor, with logits large enough to overflow a naive exp.
  testing::expect_matches_torch({{"x", randn_grad({5, 2, 3, 4}, 100.0)}}, "F.log_softmax(x, 0)", along(0),
                                {.atol = 1e-4, .rtol = 1e-6});
  // A transposed (non-contiguous) input.
  testing::expect_matches_torch(
      {{"x", randn_grad({6, 13})}}, "F.log_softmax(x.t(), 1)",
      [](const Inputs& in) { return ops::log_softmax(in.at("x").t(), 1); }, tolerance);
}

TEST(LogSoftmaxOp, ZeroDimensionalInputGivesZero) {
  Tensor x = Tensor::scalar(3.5).set_requires_grad(true);
  Tensor y = ops::log_softmax(x, -1);
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.item(), 0.0);
  y.backward();
  EXPECT_EQ(x.grad().item(), 0.0);
}

TEST(LogSoftmaxOp, RowsExponentiateToOne) {
  Generator gen(7);
  const Tensor y = ops::log_softmax(randn({4, 6}, gen, DType::f64), 1);
  const std::vector<double> v = y.to_vector<double>();
  for (int row = 0; row < 4; ++row) {
    double total = 0;
    for (int j = 0; j < 6; ++j) total += std::exp(v[row * 6 + j]);
    EXPECT_NEAR(total, 1.0, 1e-12) << "row " << row;
  }
}

TEST(LogSoftmaxOp, EmptyTensorGivesEmptyOutput) {
  Tensor x = Tensor::zeros({0, 5}).set_requires_grad(true);
  Tensor y = ops::log_softmax(x, 1);
  EXPECT_EQ(y.shape(), (Shape{0, 5}));
  y.backward(Tensor::zeros({0, 5}));
  EXPECT_EQ(x.grad().shape(), (Shape{0, 5}));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "log_softmax", fragment);
}

TEST(LogSoftmaxOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({2, 3});
  expect_error([&] { ops::log_softmax(x, 2); }, "out of range");
  expect_error([&] { ops::log_softmax(x, -3); }, "out of range");
  expect_error([&] { ops::log_softmax(x.to(DType::i64), 1); }, "int64");
  expect_error([] { ops::log_softmax(Tensor(), 0); }, "undefined");
}

}  // namespace
}  // namespace graft
