// ops::max_pool2d: output sizes (PyTorch's ceil_mode rule), numerical gradients in float64 on
// inputs without ties, forward and gradient against PyTorch in float32 over kernel, stride,
// padding, dilation and ceil_mode settings (ResNet's stem pool included), 3-D inputs, errors.
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

using ops::Size2;
using testing::Inputs;

struct PoolCase {
  Shape x;
  Size2 kernel{2, 2}, stride{0, 0}, padding{0, 0}, dilation{1, 1};
  bool ceil_mode = false;
};

Tensor run(const PoolCase& c, const Tensor& x) {
  return ops::max_pool2d(x, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode);
}

std::string pair_str(Size2 p) { return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")"; }

// Float64 values 0.1 * (a random permutation of 0..n-1): distinct and far apart compared with
// gradcheck's step, so no window's maximum changes under the perturbation.
Tensor distinct_input(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = (randperm(shape_numel(shape), gen).to(DType::f64) * 0.1).reshape(shape).detach();
  return t.set_requires_grad(true);
}

TEST(MaxPool2dOp, OutputSizeFollowsTorchRules) {
  const auto out_shape = [](const PoolCase& c) { return run(c, Tensor::zeros(c.x)).shape(); };
  // ResNet's stem: 3x3, stride 2, padding 1 halves 112 -> 56.
  EXPECT_EQ(out_shape({.x = {1, 2, 112, 112}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}),
            (Shape{1, 2, 56, 56}));
  EXPECT_EQ(out_shape({.x = {1, 1, 7, 7}, .kernel = {2, 2}}), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(out_shape({.x = {1, 1, 7, 7}, .kernel = {2, 2}, .ceil_mode = true}), (Shape{1, 1, 4, 4}));
  // ceil_mode would add a window starting in the right padding (at 6 = 5 + 1): it is dropped.
  EXPECT_EQ(
      out_shape(
          {.x = {1, 1, 5, 5}, .kernel = {2, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}),
      (Shape{1, 1, 3, 3}));
  EXPECT_EQ(out_shape({.x = {1, 1, 9, 8}, .kernel = {3, 2}, .stride = {1, 3}, .dilation = {3, 1}}),
            (Shape{1, 1, 3, 3}));
}

TEST(MaxPool2dOp, GradientsMatchNumerical) {
  const std::vector<PoolCase> cases = {
      {.x = {2, 3, 7, 7}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},  // ResNet's stem pool
      {.x = {1, 2, 6, 5}, .kernel = {2, 2}},
      {.x = {1, 2, 7, 6}, .kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .ceil_mode = true},
      {.x = {2, 1, 8, 7}, .kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 0}, .dilation = {2, 2}},
      // Overlapping windows (stride 1) send several outputs' gradients to one input.
      {.x = {1, 2, 5, 5}, .kernel = {3, 3}, .stride = {1, 1}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const PoolCase& c = cases[i];
    EXPECT_TRUE(testing::gradcheck([&](const std::vector<Tensor>& in) { return run(c, in[0]); },
                                   {distinct_input(c.x, i + 1)}));
  }
}

void expect_matches_torch(const std::vector<PoolCase>& cases, uint64_t seed) {
  // Several settings in one torch call: the output is their flattened results concatenated.
  Generator gen(seed);
  Inputs inputs;
  std::string expression = "torch.cat([";
  for (size_t i = 0; i < cases.size(); ++i) {
    const PoolCase& c = cases[i];
    const std::string name = "x" + std::to_string(i);
    inputs[name] = randn(c.x, gen).set_requires_grad(true);
    expression +=
        "F.max_pool2d(" + name + ", " + pair_str(c.kernel) + ", " +
        pair_str({c.stride[0] ? c.stride[0] : c.kernel[0], c.stride[1] ? c.stride[1] : c.kernel[1]}) + ", " +
        pair_str(c.padding) + ", " + pair_str(c.dilation) +
        ", ceil_mode=" + (c.ceil_mode ? "True" : "False") + ").flatten(),";
  }
  expression += "])";
  SCOPED_TRACE(expression);
  testing::expect_matches_torch(
      inputs, expression,
      [&](const Inputs& in) {
        std::vector<Tensor> outputs;
        for (size_t i = 0; i < cases.size(); ++i)
          outputs.push_back(run(cases[i], in.at("x" + std::to_string(i))).flatten());
        return ops::cat(outputs);
      },
      // Outputs are exact; overlapping windows' gradients are sums in another order.
      {.atol = 1e-6, .rtol = 1e-6});
}

TEST(MaxPool2dOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  expect_matches_torch(
      {
          {.x = {2, 4, 16, 16}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},  // ResNet stem
          {.x = {2, 3, 15, 15}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},  // odd size
          {.x = {1, 5, 14, 14}, .kernel = {2, 2}},                                       // VGG
          {.x = {1, 3, 13, 11}, .kernel = {2, 2}, .ceil_mode = true},
          {.x = {2, 2, 9, 10}, .kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true},
          {.x = {1, 2, 5, 5}, .kernel = {2, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
          {.x = {1, 2, 11, 12}, .kernel = {3, 2}, .stride = {2, 3}, .padding = {1, 1}, .dilation = {2, 3}},
          {.x = {2, 3, 10, 9},
           .kernel = {4, 3},
           .stride = {3, 2},
           .padding = {2, 1},
           .dilation = {1, 2},
           .ceil_mode = true},
          {.x = {1, 2, 6, 7}, .kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}},
          {.x = {1, 1, 4, 4}, .kernel = {4, 4}},  // global
      },
      10);
}

TEST(MaxPool2dOp, ThreeDimensionalInputIsOneImage) {
  Generator gen(20);
  Tensor x = randn({3, 9, 8}, gen).set_requires_grad(true);
  const Tensor dy = randn({3, 5, 4}, gen);
  Tensor y = ops::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  ASSERT_EQ(y.shape(), (Shape{3, 5, 4}));
  y.backward(dy);
  Tensor x4 = x.detach().unsqueeze(0).set_requires_grad(true);
  Tensor y4 = ops::max_pool2d(x4, {3, 3}, {2, 2}, {1, 1});
  y4.backward(dy.unsqueeze(0));
  EXPECT_TRUE(testing::all_close(y, y4.squeeze(0), 0, 0, "output"));
  EXPECT_TRUE(testing::all_close(x.grad(), x4.grad().squeeze(0), 0, 0, "dx"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "max_pool2d", fragment);
}

TEST(MaxPool2dOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({1, 2, 6, 6});
  expect_error([&] { ops::max_pool2d(x, {0, 2}); }, "kernel_size");
  expect_error([&] { ops::max_pool2d(x, {2, 2}, {-1, 1}); }, "stride");
  expect_error([&] { ops::max_pool2d(x, {3, 3}, {1, 1}, {2, 1}); }, "half the kernel");
  expect_error([&] { ops::max_pool2d(x, {3, 3}, {1, 1}, {0, -1}); }, "padding");
  expect_error([&] { ops::max_pool2d(x, {2, 2}, {1, 1}, {0, 0}, {0, 1}); }, "dilation");
  expect_error([&] { ops::max_pool2d(x, {7, 2}); }, "larger than the padded input");
  expect_error([&] { ops::max_pool2d(x, {3, 3}, {1, 1}, {0, 0}, {3, 3}); }, "larger than the padded input");
  expect_error([&] { ops::max_pool2d(Tensor::zeros({1, 1, 2, 6, 6}), {2, 2}); }, "[N, C, H, W]");
  expect_error([&] { ops::max_pool2d(Tensor::zeros({6, 6}), {2, 2}); }, "[N, C, H, W]");
  expect_error([&] { ops::max_pool2d(Tensor::empty({1, 2, 0, 6}), {1, 1}); }, "empty");
  expect_error([&] { ops::max_pool2d(x.to(DType::i64), {2, 2}); }, "int64");
}

}  // namespace
}  // namespace graft
