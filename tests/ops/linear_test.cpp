// ops::linear: numerical gradients in float64, forward and gradients against PyTorch in float32,
// gradients skipped for inputs that do not require them, and argument errors.
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

TEST(LinearOp, GradientsMatchNumerical) {
  using testing::random_input;
  const auto with_bias = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); };
  const auto without_bias = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); };
  using Args = std::vector<Tensor>;
  EXPECT_TRUE(testing::gradcheck(with_bias, Args{random_input({5, 4}, 1), random_input({3, 4}, 2),
                                                 random_input({3}, 3)}));
  EXPECT_TRUE(testing::gradcheck(with_bias, Args{random_input({2, 3, 4}, 4), random_input({5, 4}, 5),
                                                 random_input({5}, 6)}));
  EXPECT_TRUE(testing::gradcheck(with_bias, Args{random_input({7}, 7), random_input({2, 7}, 8),
                                                 random_input({2}, 9)}));
  EXPECT_TRUE(
      testing::gradcheck(without_bias, Args{random_input({3, 1, 2, 5}, 10), random_input({3, 5}, 11)}));
}

TEST(LinearOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  struct LinearCase {
    Shape x;
    int64_t out;
    bool bias;
  };
  const std::vector<LinearCase> cases = {
      {{7, 33}, 17, true},         // a classifier head: [batch, features] -> [batch, classes]
      {{2, 5, 3, 19}, 9, false},   // several leading dims
      {{130, 300}, 101, true},     // large enough for the GEMM's packed panels and several threads
  };
  // One python call: outputs flattened and joined, inputs named x0, w0, b0, x1, ...
  Generator gen(20);
  Inputs inputs;
  std::string expression = "torch.cat([";
  for (size_t i = 0; i < cases.size(); ++i) {
    const LinearCase& c = cases[i];
    const std::string x = concat("x", i), w = concat("w", i), b = c.bias ? concat("b", i) : "None";
    inputs[x] = randn(c.x, gen).set_requires_grad(true);
    inputs[w] = randn({c.out, c.x.back()}, gen).set_requires_grad(true);
    if (c.bias) inputs[b] = randn({c.out}, gen).set_requires_grad(true);
    expression += concat("F.linear(", x, ", ", w, ", ", b, ").flatten(), ");
  }
  expression += "])";
  const auto graft_fn = [&](const Inputs& in) {
    std::vector<Tensor> outputs;
    for (size_t i = 0; i < cases.size(); ++i) {
      const Tensor b = cases[i].bias ? in.at(concat("b", i)) : Tensor();
      outputs.push_back(ops::linear(in.at(concat("x", i)), in.at(concat("w", i)), b).flatten());
    }
    return ops::cat(outputs);
  };
  // float32 sums of up to 300 unit-variance products.
  testing::expect_matches_torch(inputs, expression, graft_fn, {.atol = 1e-4, .rtol = 1e-5});
}

// Gradients of linear(x, w, b) with every input requiring grad: the reference for the tests where
// only some do.
std::vector<Tensor> all_gradients(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy) {
  Tensor xr = x.clone().set_requires_grad(true), wr = w.clone().set_requires_grad(true);
  Tensor br = b.clone().set_requires_grad(true);
  ops::linear(xr, wr, br).backward(dy);
  return {xr.grad(), wr.grad(), br.grad()};
}

TEST(LinearOp, FrozenWeightGetsNoGradientButInputDoes) {
  Generator gen(30);
  const Tensor x = randn({2, 3, 6}, gen), w = randn({4, 6}, gen), b = randn({4}, gen);
  const Tensor dy = randn({2, 3, 4}, gen);
  const std::vector<Tensor> expected = all_gradients(x, w, b, dy);

  Tensor xg = x.clone().set_requires_grad(true);
  ops::linear(xg, w, b).backward(dy);
  EXPECT_TRUE(testing::all_close(xg.grad(), expected[0], 0, 0, "dx"));
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(LinearOp, FrozenInputGetsNoGradientButWeightAndBiasDo) {
  Generator gen(31);
  const Tensor x = randn({2, 3, 6}, gen), w = randn({4, 6}, gen), b = randn({4}, gen);
  const Tensor dy = randn({2, 3, 4}, gen);
  const std::vector<Tensor> expected = all_gradients(x, w, b, dy);

  Tensor wg = w.clone().set_requires_grad(true), bg = b.clone().set_requires_grad(true);
  ops::linear(x, wg, bg).backward(dy);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(testing::all_close(wg.grad(), expected[1], 0, 0, "dw"));
  EXPECT_TRUE(testing::all_close(bg.grad(), expected[2], 0, 0, "db"));
}

TEST(LinearOp, NonContiguousInputGivesTheSameResult) {
  Generator gen(32);
  const Tensor x = randn({5, 6}, gen), w = randn({4, 6}, gen);
  const Tensor x_t = x.t().contiguous().t();  // same values, transposed strides
  ASSERT_FALSE(x_t.is_contiguous());
  EXPECT_TRUE(testing::all_close(ops::linear(x_t, w), ops::linear(x, w), 0, 0, "output"));
}

TEST(LinearOp, EmptyBatchGivesEmptyOutputAndZeroWeightGradient) {
  Tensor x = Tensor::zeros({0, 3}).set_requires_grad(true);
  Tensor w = Tensor::ones({2, 3}).set_requires_grad(true), b = Tensor::ones({2}).set_requires_grad(true);
  Tensor y = ops::linear(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{0, 2}));
  y.backward(Tensor::zeros({0, 2}));
  EXPECT_TRUE(testing::all_close(w.grad(), Tensor::zeros({2, 3}), 0, 0, "dw"));
  EXPECT_TRUE(testing::all_close(b.grad(), Tensor::zeros({2}), 0, 0, "db"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "linear", fragment);
}

TEST(LinearOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({4, 5}), w = Tensor::zeros({3, 5});
  expect_error([&] { ops::linear(x, Tensor::zeros({3, 5, 1})); }, "[out_features, in_features]");
  expect_error([&] { ops::linear(x, Tensor::zeros({5})); }, "[out_features, in_features]");
  expect_error([&] { ops::linear(x, Tensor::zeros({3, 4})); }, "expects 4");
  expect_error([&] { ops::linear(Tensor::scalar(1.0), w); }, "0-d");
  expect_error([&] { ops::linear(x, w, Tensor::zeros({4})); }, "bias");
  expect_error([&] { ops::linear(x, w, Tensor::zeros({1, 3})); }, "bias");
  expect_error([&] { ops::linear(x, w.to(DType::f64)); }, "float64");
  expect_error([&] { ops::linear(x.to(DType::i64), w); }, "int64");
  EXPECT_EQ(ops::linear(x, w, Tensor::zeros({3})).shape(), (Shape{4, 3}));
}

}  // namespace
}  // namespace graft
