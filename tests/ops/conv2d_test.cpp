// ops::conv2d: numerical gradients in float64, forward and gradients against PyTorch in float32,
// gradients skipped for inputs that do not require them, and argument errors.
#include <functional>
#include <string>

#include "core/autograd.h"
#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

using ops::Size2;
using testing::Inputs;

// One convolution setting: shapes and hyperparameters.
struct ConvCase {
  Shape x, w;
  bool bias = true;
  Size2 stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
};

std::string pair_str(Size2 p) { return concat("(", p[0], ", ", p[1], ")"); }

Tensor run(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  return ops::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
}

void expect_gradients_match_numerical(const ConvCase& c, uint64_t seed) {
  std::vector<Tensor> inputs = {testing::random_input(c.x, seed), testing::random_input(c.w, seed + 1)};
  if (c.bias) inputs.push_back(testing::random_input({c.w[0]}, seed + 2));
  const auto conv = [&](const std::vector<Tensor>& in) {
    return run(c, in[0], in[1], c.bias ? in[2] : Tensor());
  };
  EXPECT_TRUE(testing::gradcheck(conv, inputs));
}

// Checks every case against PyTorch in one python call: the outputs are flattened and joined,
// and each case's inputs get their own names (x0, w0, b0, x1, ...), so every gradient is compared
// separately.
void expect_matches_torch(const std::vector<ConvCase>& cases, uint64_t seed) {
  Generator gen(seed);
  Inputs inputs;
  std::string expression = "torch.cat([";
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& c = cases[i];
    const std::string x = concat("x", i), w = concat("w", i), b = c.bias ? concat("b", i) : "None";
    inputs[x] = randn(c.x, gen).set_requires_grad(true);
    inputs[w] = randn(c.w, gen).set_requires_grad(true);
    if (c.bias) inputs[b] = randn({c.w[0]}, gen).set_requires_grad(true);
    expression += concat("F.conv2d(", x, ", ", w, ", ", b, ", stride=", pair_str(c.stride),
                         ", padding=", pair_str(c.padding), ", dilation=", pair_str(c.dilation),
                         ", groups=", c.groups, ").flatten(), ");
  }
  expression += "])";
  const auto graft_fn = [&](const Inputs& in) {
    std::vector<Tensor> outputs;
    for (size_t i = 0; i < cases.size(); ++i) {
      const Tensor b = cases[i].bias ? in.at(concat("b", i)) : Tensor();
      outputs.push_back(run(cases[i], in.at(concat("x", i)), in.at(concat("w", i)), b).flatten());
    }
    return ops::cat(outputs);
  };
  // float32 sums of up to C_in / groups * KH * KW = 147 unit-variance products.
  testing::expect_matches_torch(inputs, expression, graft_fn, {.atol = 1e-4, .rtol = 1e-5});
}

TEST(Conv2dOp, GradientsMatchNumerical) {
  expect_gradients_match_numerical({.x = {2, 3, 5, 6}, .w = {4, 3, 3, 3}, .padding = {1, 1}}, 1);
  expect_gradients_match_numerical(
      {.x = {2, 3, 7, 6}, .w = {2, 3, 3, 2}, .stride = {2, 3}, .padding = {1, 0}}, 2);
  expect_gradients_match_numerical({.x = {1, 2, 7, 7}, .w = {3, 2, 3, 3}, .dilation = {2, 2}}, 3);
  expect_gradients_match_numerical(
      {.x = {2, 4, 5, 5}, .w = {6, 2, 3, 3}, .bias = false, .padding = {1, 1}, .groups = 2}, 4);
  expect_gradients_match_numerical(
      {.x = {2, 3, 6, 5}, .w = {3, 1, 3, 3}, .stride = {2, 2}, .padding = {1, 1}, .groups = 3}, 5);
  expect_gradients_match_numerical(
      {.x = {2, 4, 5, 3}, .w = {3, 4, 1, 1}, .bias = false, .stride = {2, 2}}, 6);
}

TEST(Conv2dOp, MatchesTorchOnResNetLayers) {
  GRAFT_REQUIRE_TORCH();
  expect_matches_torch({
      {.x = {2, 3, 9, 7}, .w = {4, 3, 3, 3}, .padding = {1, 1}},                        // 3x3 pad 1
      {.x = {2, 3, 23, 19}, .w = {5, 3, 7, 7}, .stride = {2, 2}, .padding = {3, 3}},    // the stem
      {.x = {3, 6, 9, 8}, .w = {5, 6, 1, 1}, .bias = false, .stride = {2, 2}},          // downsample
      {.x = {1, 8, 15, 13}, .w = {16, 8, 3, 3}, .padding = {1, 1}},                     // batch 1
  }, 10);
}

TEST(Conv2dOp, MatchesTorchOnDilationAndGroups) {
  GRAFT_REQUIRE_TORCH();
  expect_matches_torch({
      {.x = {2, 4, 11, 10}, .w = {3, 4, 3, 3}, .padding = {2, 2}, .dilation = {2, 2}},
      {.x = {2, 6, 8, 9}, .w = {4, 3, 3, 3}, .stride = {2, 1}, .padding = {1, 1}, .groups = 2},
      // Depthwise, then depthwise with two output channels per input channel.
      {.x = {2, 5, 10, 9}, .w = {5, 1, 3, 3}, .stride = {2, 2}, .padding = {1, 1}, .groups = 5},
      {.x = {2, 3, 7, 8}, .w = {6, 1, 3, 3}, .bias = false, .padding = {1, 1}, .groups = 3},
  }, 20);
}

TEST(Conv2dOp, MatchesTorchOnOddShapes) {
  GRAFT_REQUIRE_TORCH();
  expect_matches_torch({
      // Non-square input and kernel with different stride, padding and dilation per axis.
      {.x = {2, 3, 13, 6}, .w = {4, 3, 5, 2}, .stride = {2, 1}, .padding = {2, 0}, .dilation = {1, 2}},
      // Several small images per GEMM, and one image large enough to be cut into column tiles.
      {.x = {9, 16, 5, 5}, .w = {12, 16, 3, 3}, .padding = {1, 1}},
      {.x = {1, 16, 40, 37}, .w = {8, 16, 3, 3}, .bias = false, .padding = {1, 1}},
  }, 30);
}

// Gradients of the same convolution with every input requiring grad: the reference for the
// tests where only some do.
struct AllGradients {
  Tensor dx, dw, db;
};

AllGradients all_gradients(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy) {
  Tensor xr = x.clone().set_requires_grad(true), wr = w.clone().set_requires_grad(true);
  Tensor br = b.clone().set_requires_grad(true);
  ops::conv2d(xr, wr, br, {2, 1}, {1, 1}).backward(dy);
  return {xr.grad(), wr.grad(), br.grad()};
}

TEST(Conv2dOp, FrozenWeightGetsNoGradientButInputDoes) {
  Generator gen(40);
  const Tensor x = randn({2, 3, 7, 6}, gen), w = randn({4, 3, 3, 3}, gen), b = randn({4}, gen);
  const Tensor dy = randn({2, 4, 4, 6}, gen);
  const AllGradients expected = all_gradients(x, w, b, dy);

  Tensor xg = x.clone().set_requires_grad(true);
  Tensor y = ops::conv2d(xg, w, b, {2, 1}, {1, 1});
  ASSERT_TRUE(y.requires_grad());
  y.backward(dy);
  EXPECT_TRUE(testing::all_close(xg.grad(), expected.dx, 0, 0, "dx"));  // same kernel, same bits
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Conv2dOp, FrozenInputGetsNoGradientButWeightAndBiasDo) {
  Generator gen(41);
  const Tensor x = randn({2, 3, 7, 6}, gen), w = randn({4, 3, 3, 3}, gen), b = randn({4}, gen);
  const Tensor dy = randn({2, 4, 4, 6}, gen);
  const AllGradients expected = all_gradients(x, w, b, dy);

  Tensor wg = w.clone().set_requires_grad(true), bg = b.clone().set_requires_grad(true);
  ops::conv2d(x, wg, bg, {2, 1}, {1, 1}).backward(dy);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(testing::all_close(wg.grad(), expected.dw, 0, 0, "dw"));
  EXPECT_TRUE(testing::all_close(bg.grad(), expected.db, 1e-5, 1e-6, "db"));
}

TEST(Conv2dOp, OnlyBiasTrainableGetsBiasGradient) {
  Generator gen(42);
  const Tensor x = randn({2, 3, 7, 6}, gen), w = randn({4, 3, 3, 3}, gen), b = randn({4}, gen);
  const Tensor dy = randn({2, 4, 4, 6}, gen);
  const AllGradients expected = all_gradients(x, w, b, dy);

  Tensor bg = b.clone().set_requires_grad(true);
  ops::conv2d(x, w, bg, {2, 1}, {1, 1}).backward(dy);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_TRUE(testing::all_close(bg.grad(), expected.db, 1e-5, 1e-6, "db"));
}

TEST(Conv2dOp, NonContiguousInputsGiveTheSameResult) {
  Generator gen(43);
  const Tensor x = randn({2, 3, 6, 7}, gen), w = randn({4, 3, 3, 3}, gen);
  const Tensor x_t = x.transpose(2, 3).contiguous().transpose(2, 3);  // same values, other strides
  ASSERT_FALSE(x_t.is_contiguous());
  EXPECT_TRUE(testing::all_close(ops::conv2d(x_t, w), ops::conv2d(x, w), 0, 0, "output"));
}

TEST(Conv2dOp, NoGraphWithoutGradients) {
  Generator gen(44);
  Tensor x = randn({1, 2, 5, 5}, gen).set_requires_grad(true), w = randn({3, 2, 3, 3}, gen);
  EXPECT_FALSE(ops::conv2d(x.detach(), w).requires_grad());
  NoGradGuard no_grad;
  EXPECT_FALSE(ops::conv2d(x, w).requires_grad());
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "conv2d", fragment);
}

TEST(Conv2dOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({2, 4, 8, 8}), w = Tensor::zeros({6, 4, 3, 3}), b = Tensor::zeros({6});
  expect_error([&] { ops::conv2d(x, Tensor::zeros({6, 4, 3})); }, "weight");
  expect_error([&] { ops::conv2d(Tensor::zeros({4, 8, 8}), w); }, "[N, C_in, H, W]");
  expect_error([&] { ops::conv2d(x, Tensor::zeros({6, 3, 3, 3})); }, "weight.size(1) * groups");
  expect_error([&] { ops::conv2d(x, Tensor::zeros({6, 4, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 2); },
               "weight.size(1) * groups");
  expect_error([&] { ops::conv2d(x, Tensor::zeros({6, 1, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 3); },
               "does not divide the input channels");
  expect_error([&] { ops::conv2d(x, Tensor::zeros({6, 2, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 4); },
               "does not divide the output channels");
  expect_error([&] { ops::conv2d(x, w, {}, {1, 1}, {0, 0}, {1, 1}, 0); }, "groups must be positive");
  expect_error([&] { ops::conv2d(x, w, {}, {0, 1}); }, "stride must be positive");
  expect_error([&] { ops::conv2d(x, w, {}, {1, -2}); }, "stride must be positive");
  expect_error([&] { ops::conv2d(x, w, {}, {1, 1}, {0, 0}, {1, 0}); }, "dilation must be positive");
  expect_error([&] { ops::conv2d(x, w, {}, {1, 1}, {-1, 0}); }, "padding must be non-negative");
  expect_error([&] { ops::conv2d(x, Tensor::zeros({6, 4, 9, 3})); }, "padded input");
  expect_error([&] { ops::conv2d(x, w, {}, {1, 1}, {0, 0}, {4, 1}); }, "padded input");
  expect_error([&] { ops::conv2d(x, w, Tensor::zeros({5})); }, "bias");
  expect_error([&] { ops::conv2d(x, w, Tensor::zeros({6, 1})); }, "bias");
  expect_error([&] { ops::conv2d(Tensor::zeros({0, 4, 8, 8}), w); }, "empty dimension");
  expect_error([&] { ops::conv2d(x, Tensor::empty({6, 4, 0, 3})); }, "empty dimension");
  expect_error([&] { ops::conv2d(x, w.to(DType::f64)); }, "float64");
  expect_error([&] { ops::conv2d(x.to(DType::i64), w); }, "int64");
  expect_error([&] { ops::conv2d(Tensor(), w); }, "undefined");
  // The same tensors with valid arguments work.
  EXPECT_EQ(ops::conv2d(x, w, b, {2, 2}, {1, 1}).shape(), (Shape{2, 6, 4, 4}));
}

}  // namespace
}  // namespace graft
