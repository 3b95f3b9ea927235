// The layers other than batch norm: torch's default initialization of Conv2d and Linear, that
// each layer computes its op with its options, FLOPs, and argument errors.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"

namespace graft {
namespace {

// Values drawn from U(-bound, bound): inside it, reaching close to both ends, with the uniform
// distribution's mean 0 and variance bound^2 / 3.
void expect_uniform(const Tensor& t, double bound, const char* what) {
  const std::vector<double> v = t.to_vector<double>();
  const auto [lowest, highest] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lowest, -bound) << what;
  EXPECT_LE(*highest, bound) << what;
  EXPECT_LT(*lowest, -0.95 * bound) << what;
  EXPECT_GT(*highest, 0.95 * bound) << what;
  const double n = static_cast<double>(v.size());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double variance = 0;
  for (double x : v) variance += (x - mean) * (x - mean) / n;
  EXPECT_NEAR(mean, 0.0, 4 * bound / std::sqrt(3 * n)) << what;
  EXPECT_NEAR(variance, bound * bound / 3, 0.1 * bound * bound / 3) << what;
}

TEST(Conv2dLayer, InitializesAsTorchDefault) {
  Generator gen(1);
  nn::Conv2d conv(16, 32, 3, {}, gen);  // fan_in = 16 * 3 * 3
  EXPECT_EQ(conv.weight().shape(), (Shape{32, 16, 3, 3}));
  expect_uniform(conv.weight(), 1.0 / std::sqrt(144.0), "weight");
  // 32 values only: the bound is what can be checked.
  for (double b : conv.bias().to_vector<double>()) EXPECT_LE(std::abs(b), 1.0 / 12.0);
}

TEST(Conv2dLayer, GroupedFanInAndSeededDeterminism) {
  Generator gen_a(2), gen_b(2);
  nn::Conv2d a(64, 128, 3, {.groups = 4}, gen_a), b(64, 128, 3, {.groups = 4}, gen_b);
  EXPECT_EQ(a.weight().shape(), (Shape{128, 16, 3, 3}));
  expect_uniform(a.weight(), 1.0 / 12.0, "grouped weight");  // fan_in = 16 * 3 * 3
  EXPECT_TRUE(testing::all_close(a.weight(), b.weight(), 0, 0, "same seed"));
}

TEST(Conv2dLayer, ComputesTheConvolutionOfItsOptions) {
  Generator gen(3);
  nn::Conv2d conv(4, 6, {3, 2}, {.stride = {2, 1}, .padding = 1, .dilation = {1, 2}, .groups = 2}, gen);
  const Tensor x = randn({2, 4, 9, 8}, gen);
  const Tensor expected = ops::conv2d(x, conv.weight(), conv.bias(), {2, 1}, {1, 1}, {1, 2}, 2);
  const Tensor y = conv(x);
  EXPECT_TRUE(testing::all_close(y, expected, 0, 0, "conv output"));
  EXPECT_EQ(conv.flops(x.shape(), y.shape()), 2 * y.numel() * 2 * 3 * 2);

  nn::Conv2d no_bias(3, 5, 1, {.bias = false}, gen);
  EXPECT_FALSE(no_bias.bias().defined());
  EXPECT_EQ(no_bias.named_parameters().size(), 1u);
}

TEST(Conv2dLayer, RejectsBadShapes) {
  testing::expect_error([] { nn::Conv2d(6, 4, 3, {.groups = 4}); }, "Conv2d", "multiples of groups");
  testing::expect_error([] { nn::Conv2d(0, 4, 3); }, "Conv2d", "positive");
  testing::expect_error([] { nn::Conv2d(3, 4, {3, 0}); }, "Conv2d", "kernel_size");
}

TEST(Conv2dLayer, SkipInitGuardLeavesZerosAndDrawsNothing) {
  Generator gen(8);
  const uint64_t first_draw = Generator(8).next_u64();
  {
    nn::SkipInitGuard skip;
    EXPECT_FALSE(nn::init_enabled());
    nn::Conv2d conv(3, 4, 3, {}, gen);
    nn::Linear linear(5, 2, true, gen);
    for (const Tensor& p : {conv.weight(), conv.bias(), linear.weight(), linear.bias()}) {
      EXPECT_EQ(p.to_vector<float>(), std::vector<float>(p.numel(), 0.0f));
    }
  }
  EXPECT_TRUE(nn::init_enabled());
  EXPECT_EQ(gen.next_u64(), first_draw);
}

TEST(LinearLayer, InitializesAsTorchDefaultAndComputesXWtPlusB) {
  Generator gen(4);
  nn::Linear linear(400, 300, true, gen);
  expect_uniform(linear.weight(), 1.0 / 20.0, "weight");
  expect_uniform(linear.bias(), 1.0 / 20.0, "bias");
  const Tensor x = randn({5, 400}, gen);
  const Tensor y = linear(x);
  EXPECT_TRUE(testing::all_close(y, ops::linear(x, linear.weight(), linear.bias()), 0, 0, "linear output"));
  EXPECT_EQ(linear.flops(x.shape(), y.shape()), 2 * 5 * 400 * 300);
  EXPECT_FALSE(nn::Linear(3, 2, false).bias().defined());
  testing::expect_error([] { nn::Linear(3, 0); }, "Linear", "positive");
}

TEST(PoolingLayers, StrideDefaultsToTheKernelSize) {
  Generator gen(5);
  const Tensor x = randn({2, 3, 8, 7}, gen);
  EXPECT_TRUE(testing::all_close(nn::MaxPool2d(2)(x), ops::max_pool2d(x, {2, 2}, {2, 2}), 0, 0, "max pool"));
  EXPECT_TRUE(testing::all_close(nn::MaxPool2d(3, {.stride = 2, .padding = 1})(x),
                                 ops::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}), 0, 0, "max pool, stride 2"));
  EXPECT_TRUE(testing::all_close(nn::AvgPool2d({2, 3})(x), ops::avg_pool2d(x, {2, 3}, {2, 3}), 0, 0, "avg pool"));
  EXPECT_TRUE(testing::all_close(nn::AvgPool2d(3, {.stride = 1, .padding = 1, .count_include_pad = false})(x),
                                 ops::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, false, false), 0, 0, "avg pool, padded"));
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1)(x).shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d({7, 7})(x).shape(), (Shape{2, 3, 7, 7}));
}

TEST(DropoutLayer, DropsOnlyInTrainingMode) {
  Generator gen(6);
  const Tensor x = Tensor::ones({100, 100});
  nn::Dropout dropout(0.25, gen);
  const std::vector<float> y = dropout(x).to_vector<float>();
  const auto zeros = std::count(y.begin(), y.end(), 0.0f);
  EXPECT_NEAR(static_cast<double>(zeros) / 10000, 0.25, 0.03);
  for (float v : y) EXPECT_TRUE(v == 0.0f || std::abs(v - 4.0f / 3.0f) < 1e-6f);
  dropout.eval();
  EXPECT_EQ(dropout(x).raw_data(), x.raw_data());
  testing::expect_error([] { nn::Dropout(1.5); }, "Dropout", "[0, 1]");
}

TEST(ShapeLayers, FlattenIdentityAndReLU) {
  Generator gen(7);
  const Tensor x = randn({2, 3, 4, 5}, gen);
  EXPECT_EQ(nn::Flatten()(x).shape(), (Shape{2, 60}));
  EXPECT_EQ(nn::Flatten(0, 1)(x).shape(), (Shape{6, 4, 5}));
  EXPECT_EQ(nn::Identity()(x).raw_impl(), x.raw_impl());
  EXPECT_TRUE(testing::all_close(nn::ReLU()(x), ops::relu(x), 0, 0, "relu"));
}

}  // namespace
}  // namespace graft
