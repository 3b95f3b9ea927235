// ops::avg_pool2d: output sizes, numerical gradients in float64, forward and gradient against
// PyTorch in float32 over kernel, stride, padding, ceil_mode and count_include_pad settings,
// 3-D inputs, argument errors.
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
  Size2 kernel{2, 2}, stride{0, 0}, padding{0, 0};
  bool ceil_mode = false, count_include_pad = true;
};

Tensor run(const PoolCase& c, const Tensor& x) {
  return ops::avg_pool2d(x, c.kernel, c.stride, c.padding, c.ceil_mode, c.count_include_pad);
}

std::string pair_str(Size2 p) { return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")"; }
const char* py_bool(bool b) { return b ? "True" : "False"; }

TEST(AvgPool2dOp, OutputSizeAndDivisors) {
  // A 3x3 input of ones, 2x2 windows with stride 2 and padding 1: the windows hold 1, 2, 2 and 4
  // real elements.
  const Tensor x = Tensor::ones({1, 1, 3, 3}, DType::f64);
  const Tensor with_pad = ops::avg_pool2d(x, {2, 2}, {2, 2}, {1, 1});
  EXPECT_TRUE(testing::all_close(with_pad, Tensor::from_vector<double>({0.25, 0.5, 0.5, 1.0}, {1, 1, 2, 2}),
                                 0, 0, "count_include_pad"));
  const Tensor real_only = ops::avg_pool2d(x, {2, 2}, {2, 2}, {1, 1}, false, false);
  EXPECT_TRUE(
      testing::all_close(real_only, Tensor::ones({1, 1, 2, 2}, DType::f64), 0, 0, "real elements only"));
  // ceil_mode adds a window over the last column and row of a 5x5 input; its divisor stops at
  // the input's edge (there is no padding to count), so ones average to one.
  const Tensor y = ops::avg_pool2d(Tensor::ones({1, 1, 5, 5}, DType::f64), {2, 2}, {2, 2}, {0, 0}, true);
  EXPECT_TRUE(testing::all_close(y, Tensor::ones({1, 1, 3, 3}, DType::f64), 0, 0, "ceil_mode"));
}

TEST(AvgPool2dOp, GradientsMatchNumerical) {
  const std::vector<PoolCase> cases = {
      {.x = {2, 3, 6, 6}, .kernel = {2, 2}},
      {.x = {1, 2, 7, 5}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},
      {.x = {1, 2, 7, 5}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false},
      {.x = {2, 1, 7, 8}, .kernel = {3, 2}, .stride = {2, 3}, .padding = {1, 1}, .ceil_mode = true},
      {.x = {1, 2, 8, 7},
       .kernel = {2, 3},
       .stride = {3, 2},
       .padding = {1, 0},
       .ceil_mode = true,
       .count_include_pad = false},
      {.x = {1, 1, 5, 5}, .kernel = {3, 3}, .stride = {1, 1}},  // overlapping windows
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const PoolCase& c = cases[i];
    EXPECT_TRUE(testing::gradcheck([&](const std::vector<Tensor>& in) { return run(c, in[0]); },
                                   {testing::random_input(c.x, i + 1)}));
  }
}

TEST(AvgPool2dOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  const std::vector<PoolCase> cases = {
      {.x = {2, 4, 16, 16}, .kernel = {2, 2}},
      {.x = {2, 3, 15, 13}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},
      {.x = {2, 3, 15, 13},
       .kernel = {3, 3},
       .stride = {2, 2},
       .padding = {1, 1},
       .count_include_pad = false},
      {.x = {1, 3, 13, 11}, .kernel = {2, 2}, .ceil_mode = true},
      {.x = {1, 2, 10, 10}, .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {.x = {1, 2, 10, 10},
       .kernel = {3, 3},
       .stride = {2, 2},
       .padding = {1, 1},
       .ceil_mode = true,
       .count_include_pad = false},
      {.x = {1, 2, 5, 5}, .kernel = {2, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {.x = {2, 2, 11, 9}, .kernel = {4, 3}, .stride = {3, 2}, .padding = {2, 1}, .ceil_mode = true},
      {.x = {1, 2, 6, 7}, .kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}, .count_include_pad = false},
      {.x = {1, 3, 7, 7}, .kernel = {7, 7}},  // global, as at the end of a ResNet
  };
  // Several settings in one torch call: the output is their flattened results concatenated.
  Generator gen(10);
  Inputs inputs;
  std::string expression = "torch.cat([";
  for (size_t i = 0; i < cases.size(); ++i) {
    const PoolCase& c = cases[i];
    const std::string name = "x" + std::to_string(i);
    inputs[name] = randn(c.x, gen).set_requires_grad(true);
    expression +=
        "F.avg_pool2d(" + name + ", " + pair_str(c.kernel) + ", " +
        pair_str({c.stride[0] ? c.stride[0] : c.kernel[0], c.stride[1] ? c.stride[1] : c.kernel[1]}) + ", " +
        pair_str(c.padding) + ", ceil_mode=" + py_bool(c.ceil_mode) +
        ", count_include_pad=" + py_bool(c.count_include_pad) + ").flatten(),";
  }
  expression += "])";
  SCOPED_TRACE(expression);
  testing::expect_matches_torch(
      inputs, expression,
      [&](const Inputs& in) {
        std::vector<Tensor> outputs;
        for (size_t i = 0; i < cases.size(); ++i) {
          outputs.push_back(run(cases[i], in.at("x" + std::to_string(i))).flatten());
        }
        return ops::cat(outputs);
      },
      {.atol = 1e-6, .rtol = 1e-6});
}

TEST(AvgPool2dOp, ThreeDimensionalInputIsOneImage) {
  Generator gen(20);
  Tensor x = randn({3, 9, 8}, gen).set_requires_grad(true);
  const Tensor dy = randn({3, 5, 4}, gen);
  Tensor y = ops::avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}, false, false);
  ASSERT_EQ(y.shape(), (Shape{3, 5, 4}));
  y.backward(dy);
  Tensor x4 = x.detach().unsqueeze(0).set_requires_grad(true);
  ops::avg_pool2d(x4, {3, 3}, {2, 2}, {1, 1}, false, false).backward(dy.unsqueeze(0));
  EXPECT_TRUE(testing::all_close(x.grad(), x4.grad().squeeze(0), 0, 0, "dx"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "avg_pool2d", fragment);
}

TEST(AvgPool2dOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({1, 2, 6, 6});
  expect_error([&] { ops::avg_pool2d(x, {2, -1}); }, "kernel_size");
  expect_error([&] { ops::avg_pool2d(x, {2, 2}, {1, -2}); }, "stride");
  expect_error([&] { ops::avg_pool2d(x, {2, 2}, {1, 1}, {2, 0}); }, "half the kernel");
  expect_error([&] { ops::avg_pool2d(x, {7, 7}); }, "larger than the padded input");
  expect_error([&] { ops::avg_pool2d(Tensor::zeros({2, 6}), {2, 2}); }, "[N, C, H, W]");
  expect_error([&] { ops::avg_pool2d(Tensor::empty({1, 2, 6, 0}), {1, 1}); }, "empty");
  expect_error([&] { ops::avg_pool2d(x.to(DType::i64), {2, 2}); }, "int64");
}

}  // namespace
}  // namespace graft
