// ops::adaptive_avg_pool2d: numerical gradients in float64, forward and gradient against PyTorch in
// float32 (shrinking, identity, growing and uneven, overlapping windows), 3-D inputs, errors.
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

struct AdaptiveCase {
  Shape x;
  Size2 out;
};

TEST(AdaptiveAvgPool2dOp, GradientsMatchNumerical) {
  const std::vector<AdaptiveCase> cases = {
      {{2, 3, 5, 7}, {1, 1}},  // global average, as in ResNet's head
      {{1, 2, 7, 5}, {3, 2}},  // uneven, overlapping windows
      {{1, 2, 3, 2}, {5, 4}},  // output larger than input
      {{2, 1, 4, 6}, {4, 6}},  // identity
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const AdaptiveCase& c = cases[i];
    EXPECT_TRUE(testing::gradcheck(
        [&](const std::vector<Tensor>& in) { return ops::adaptive_avg_pool2d(in[0], c.out); },
        {testing::random_input(c.x, i + 1)}));
  }
}

TEST(AdaptiveAvgPool2dOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  const std::vector<AdaptiveCase> cases = {
      {{2, 8, 7, 7}, {1, 1}},    // ResNet head
      {{2, 4, 13, 9}, {7, 7}},   // VGG head on a small input (windows overlap)
      {{1, 3, 14, 14}, {7, 7}},  // even split
      {{1, 2, 5, 3}, {7, 8}},    // grow
      {{2, 3, 10, 11}, {3, 4}},
  };
  // All settings in one torch call: the output is their flattened results concatenated.
  Generator gen(10);
  Inputs inputs;
  std::string expression = "torch.cat([";
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string name = "x" + std::to_string(i);
    inputs[name] = randn(cases[i].x, gen).set_requires_grad(true);
    expression += "F.adaptive_avg_pool2d(" + name + ", (" + std::to_string(cases[i].out[0]) + ", " +
                  std::to_string(cases[i].out[1]) + ")).flatten(),";
  }
  expression += "])";
  SCOPED_TRACE(expression);
  testing::expect_matches_torch(
      inputs, expression,
      [&](const Inputs& in) {
        std::vector<Tensor> outputs;
        for (size_t i = 0; i < cases.size(); ++i) {
          outputs.push_back(ops::adaptive_avg_pool2d(in.at("x" + std::to_string(i)), cases[i].out).flatten());
        }
        return ops::cat(outputs);
      },
      {.atol = 1e-6, .rtol = 1e-6});
}

TEST(AdaptiveAvgPool2dOp, ThreeDimensionalInputIsOneImage) {
  Generator gen(20);
  Tensor x = randn({3, 9, 8}, gen).set_requires_grad(true);
  const Tensor dy = randn({3, 4, 3}, gen);
  Tensor y = ops::adaptive_avg_pool2d(x, {4, 3});
  ASSERT_EQ(y.shape(), (Shape{3, 4, 3}));
  y.backward(dy);
  Tensor x4 = x.detach().unsqueeze(0).set_requires_grad(true);
  ops::adaptive_avg_pool2d(x4, {4, 3}).backward(dy.unsqueeze(0));
  EXPECT_TRUE(testing::all_close(x.grad(), x4.grad().squeeze(0), 0, 0, "dx"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "adaptive_avg_pool2d", fragment);
}

TEST(AdaptiveAvgPool2dOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({1, 2, 6, 6});
  expect_error([&] { ops::adaptive_avg_pool2d(x, {0, 1}); }, "output_size");
  expect_error([&] { ops::adaptive_avg_pool2d(x, {2, -3}); }, "output_size");
  expect_error([&] { ops::adaptive_avg_pool2d(Tensor::zeros({6, 6}), {1, 1}); }, "[N, C, H, W]");
  expect_error([&] { ops::adaptive_avg_pool2d(Tensor::empty({1, 2, 0, 6}), {1, 1}); }, "empty");
  expect_error([&] { ops::adaptive_avg_pool2d(x.to(DType::i64), {1, 1}); }, "int64");
}

}  // namespace
}  // namespace graft
