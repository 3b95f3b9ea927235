// ops::cat: numerical gradients in float64, values and gradients against PyTorch in float32,
// inputs that do not require grad, empty pieces, non-float tensors, and argument errors.
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

std::function<Tensor(const std::vector<Tensor>&)> cat_along(int64_t dim) {
  return [dim](const std::vector<Tensor>& in) { return ops::cat(in, dim); };
}

TEST(CatOp, GradientsMatchNumerical) {
  EXPECT_TRUE(testing::gradcheck(cat_along(0), {random_input({2, 3}, 1), random_input({3, 3}, 2)}));
  EXPECT_TRUE(testing::gradcheck(cat_along(1), {random_input({2, 1, 3}, 3), random_input({2, 4, 3}, 4),
                                                random_input({2, 2, 3}, 5)}));
  EXPECT_TRUE(testing::gradcheck(cat_along(-1), {random_input({3, 2, 1}, 6), random_input({3, 2, 3}, 7)}));
  // One input frozen, one empty along the cat dimension, one on its own.
  EXPECT_TRUE(testing::gradcheck(cat_along(2), {random_input({2, 3, 2}, 8, false), random_input({2, 3, 0}, 9),
                                                random_input({2, 3, 5}, 10)}));
  EXPECT_TRUE(testing::gradcheck(cat_along(0), {random_input({5}, 11)}));
}

TEST(CatOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(20);
  const auto randn_grad = [&](const Shape& shape) { return randn(shape, gen).set_requires_grad(true); };
  const testing::Tolerance exact{.atol = 0, .rtol = 0};
  // Three pieces along a middle dimension, one of them frozen.
  testing::expect_matches_torch(
      {{"a", randn_grad({3, 5, 7})}, {"b", randn({3, 2, 7}, gen)}, {"c", randn_grad({3, 9, 7})}},
      "torch.cat([a, b, c], 1)",
      [](const Inputs& in) { return ops::cat({in.at("a"), in.at("b"), in.at("c")}, 1); }, exact);
  // Negative dim, a transposed (non-contiguous) piece, and the same tensor twice (its gradient is
  // the sum of both slices).
  testing::expect_matches_torch(
      {{"a", randn_grad({4, 6})}, {"b", randn_grad({6, 3})}}, "torch.cat([a, b.t(), a], -2)",
      [](const Inputs& in) { return ops::cat({in.at("a"), in.at("b").t(), in.at("a")}, -2); }, exact);
}

TEST(CatOp, ValuesAreInOrder) {
  const Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  const Tensor b = Tensor::from_vector<float>({5, 6}, {2, 1});
  const Tensor out = ops::cat({a, b}, 1);
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
}

TEST(CatOp, JoinsInt64Tensors) {
  const Tensor a = Tensor::from_vector<int64_t>({1, 2}, {2});
  const Tensor b = Tensor::from_vector<int64_t>({3}, {1});
  const Tensor out = ops::cat({a, b});
  EXPECT_EQ(out.dtype(), DType::i64);
  EXPECT_EQ(out.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
}

TEST(CatOp, FrozenInputsGetNoGradient) {
  Tensor a = Tensor::ones({2, 2}).set_requires_grad(true);
  const Tensor b = Tensor::ones({1, 2});
  const Tensor dy = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  ops::cat({b, a}).backward(dy);
  EXPECT_FALSE(b.grad().defined());
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{3, 4, 5, 6}));
}

TEST(CatOp, NothingRecordedWithoutGrad) {
  EXPECT_FALSE(ops::cat({Tensor::ones({2}), Tensor::ones({3})}).requires_grad());
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "cat", fragment);
}

TEST(CatOp, RejectsBadArguments) {
  const Tensor a = Tensor::zeros({2, 3});
  expect_error([] { ops::cat({}); }, "non-empty");
  expect_error([&] { ops::cat({a, Tensor()}); }, "tensor 1 is undefined");
  expect_error([&] { ops::cat({Tensor::scalar(1), Tensor::scalar(2)}); }, "zero-dimensional");
  expect_error([&] { ops::cat({a, a}, 2); }, "out of range");
  expect_error([&] { ops::cat({a, a}, -3); }, "out of range");
  // The message names the tensor that differs from tensor 0, and the dimension.
  expect_error([&] { ops::cat({a, a, Tensor::zeros({2, 4})}, 0); }, "tensor 2 has shape [2, 4]");
  expect_error([&] { ops::cat({a, Tensor::zeros({3, 3})}, 1); }, "dimension 0");
  expect_error([&] { ops::cat({a, Tensor::zeros({2, 3, 1})}, 0); }, "tensor 1 has 3 dimension(s)");
  expect_error([&] { ops::cat({a, a.to(DType::f64)}, 0); }, "tensor 1 has dtype float64");
  EXPECT_EQ(ops::cat({a, Tensor::zeros({2, 4})}, 1).shape(), (Shape{2, 7}));
}

}  // namespace
}  // namespace graft
