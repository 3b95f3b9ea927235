// ops::add, sub, mul, div and the Tensor operators: numerical gradients in float64 with
// broadcasting in every direction (including 0-d and scalar operands), values and gradients
// against PyTorch in float32, and argument errors.
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
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct NamedOp {
  const char* name;
  Fn fn;
};

const std::vector<NamedOp>& binary_ops() {
  static const std::vector<NamedOp> ops{
      {"add", [](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); }},
      {"sub", [](const std::vector<Tensor>& in) { return ops::sub(in[0], in[1]); }},
      {"mul", [](const std::vector<Tensor>& in) { return ops::mul(in[0], in[1]); }},
      {"div", [](const std::vector<Tensor>& in) { return ops::div(in[0], in[1]); }},
  };
  return ops;
}

// A float64 leaf with values in [0.5, 1.5) or (-1.5, -0.5]: a divisor far from zero, so finite
// differences of 1/b stay accurate.
Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor magnitude = rand(shape, gen, DType::f64) + 0.5;
  Tensor sign = rand(shape, gen, DType::f64);
  std::vector<double> values = magnitude.to_vector<double>();
  const std::vector<double> coin = sign.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) values[i] *= coin[i] < 0.5 ? -1 : 1;
  return Tensor::from_vector(values, shape).set_requires_grad(true);
}

TEST(BinaryOp, GradientsMatchNumericalWithBroadcasting) {
  // Pairs of shapes that broadcast: equal, b to a, a to b, both ways at once, rank differences
  // on either side, 0-d on either side and on both, and a size-1 dim against a missing one.
  const std::vector<std::pair<Shape, Shape>> shapes{
      {{2, 3}, {2, 3}},       {{2, 3}, {3}},    {{3}, {2, 3}},       {{3, 1, 4}, {2, 1}},
      {{2, 1}, {3, 1, 4}},    {{2, 3}, {}},     {{}, {2, 3}},        {{}, {}},
      {{1}, {2, 3}},          {{4, 1}, {1, 3}}, {{1, 3, 1}, {2, 1, 5}},
  };
  uint64_t seed = 1;
  for (const NamedOp& op : binary_ops()) {
    for (const auto& [a, b] : shapes) {
      SCOPED_TRACE(::testing::Message() << op.name << " " << shape_str(a) << " with " << shape_str(b));
      EXPECT_TRUE(testing::gradcheck(op.fn, {random_input(a, seed), away_from_zero(b, seed + 1)}));
      seed += 2;
    }
  }
}

TEST(BinaryOp, GradientsOfOneSideOnly) {
  for (const NamedOp& op : binary_ops()) {
    SCOPED_TRACE(op.name);
    EXPECT_TRUE(testing::gradcheck(op.fn, {random_input({2, 3}, 1, false), away_from_zero({3}, 2)}));
    EXPECT_TRUE(testing::gradcheck(op.fn, {random_input({3}, 3), away_from_zero({2, 3}, 4).detach()}));
  }
}

TEST(BinaryOp, ScalarOperatorGradientsMatchNumerical) {
  const std::vector<Fn> fns{
      [](const std::vector<Tensor>& in) { return in[0] + 2.5; },
      [](const std::vector<Tensor>& in) { return in[0] - 2.5; },
      [](const std::vector<Tensor>& in) { return in[0] * -1.5; },
      [](const std::vector<Tensor>& in) { return in[0] / 4.0; },
      [](const std::vector<Tensor>& in) { return -in[0]; },
      [](const std::vector<Tensor>& in) { return in[0] * in[0]; },  // one leaf on both sides
      [](const std::vector<Tensor>& in) { return in[0] / in[0].select(0, 1); },
  };
  for (size_t i = 0; i < fns.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "function " << i);
    EXPECT_TRUE(testing::gradcheck(fns[i], {away_from_zero({3, 2}, 10 + i)}));
    EXPECT_TRUE(testing::gradcheck(fns[i], {away_from_zero({3}, 20 + i)}));
  }
}

TEST(BinaryOp, MatchesTorchWithBroadcasting) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(20);
  const auto randn_grad = [&](const Shape& shape) { return randn(shape, gen).set_requires_grad(true); };
  const auto divisor = [&](const Shape& shape) {  // in [1, 2): no cancellation in 1/b
    return (rand(shape, gen) + 1.0).detach().set_requires_grad(true);
  };
  const testing::Tolerance tolerance{.atol = 1e-5, .rtol = 1e-5};
  // Each op with both operands broadcast at once ([3, 1, 5] with [4, 1] gives [3, 4, 5]).
  for (const NamedOp& op : binary_ops()) {
    const std::string symbol = op.name == std::string("add")   ? "+"
                               : op.name == std::string("sub") ? "-"
                               : op.name == std::string("mul") ? "*"
                                                               : "/";
    const Fn fn = op.fn;
    testing::expect_matches_torch({{"a", randn_grad({3, 1, 5})}, {"b", divisor({4, 1})}}, "a " + symbol + " b",
                                  [fn](const Inputs& in) { return fn({in.at("a"), in.at("b")}); }, tolerance);
  }
  // All four ops in one expression with 0-d, [1] and Python-number operands, a transposed
  // operand and one that does not require grad.
  testing::expect_matches_torch(
      {{"x", randn_grad({4, 6})},
       {"s", randn_grad({})},
       {"u", divisor({1})},
       {"v", randn({6, 4}, gen)},
       {"w", divisor({})}},
      "((x + s) * u - v.t()) / w * 0.5 - 3.0 / (w + 1.0)",
      [](const Inputs& in) {
        const Tensor& w = in.at("w");
        return ((in.at("x") + in.at("s")) * in.at("u") - in.at("v").t()) / w * 0.5 -
               ops::div(Tensor::scalar(3.0), w + 1.0);
      },
      tolerance);
}

TEST(BinaryOp, KnownValues) {
  const Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::from_vector<float>({10, 20}, {2, 1});
  EXPECT_EQ((a + b).to_vector<float>(), (std::vector<float>{11, 12, 13, 24, 25, 26}));
  EXPECT_EQ((b - a).to_vector<float>(), (std::vector<float>{9, 8, 7, 16, 15, 14}));
  EXPECT_EQ((a * b).to_vector<float>(), (std::vector<float>{10, 20, 30, 80, 100, 120}));
  EXPECT_EQ((b / a).to_vector<float>(), (std::vector<float>{10, 5, 10.0f / 3, 5, 4, 20.0f / 6}));
  EXPECT_EQ((Tensor::scalar(2.0) * Tensor::scalar(3.0)).shape(), Shape{});
}

TEST(BinaryOp, EmptyOperandsBroadcast) {
  Tensor a = Tensor::zeros({0, 3}).set_requires_grad(true);
  Tensor b = Tensor::ones({3}).set_requires_grad(true);
  Tensor y = a * b;
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
  y.backward(Tensor::zeros({0, 3}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{0, 0, 0}));
}

using testing::expect_error;

TEST(BinaryOp, RejectsBadArguments) {
  const Tensor a = Tensor::zeros({3, 4});
  expect_error([&] { ops::add(a, Tensor::zeros({5})); }, "add", "[3, 4] and [5] cannot be broadcast");
  expect_error([&] { ops::sub(a, Tensor::zeros({2, 4})); }, "sub", "cannot be broadcast");
  expect_error([&] { ops::mul(Tensor::zeros({2, 1, 3}), Tensor::zeros({4, 2})); }, "mul",
               "cannot be broadcast");
  expect_error([&] { ops::div(a, a.to(DType::f64)); }, "div", "float64");
  expect_error([&] { ops::add(a.to(DType::i64), a.to(DType::i64)); }, "add", "int64");
  expect_error([&] { ops::mul(a, Tensor()); }, "mul", "undefined");
  expect_error([&] { ops::add(Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 3, 4}), a); }, "add", "at most 8 dimensions");
}

}  // namespace
}  // namespace graft
