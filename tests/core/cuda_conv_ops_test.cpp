// conv2d, batch_norm and the pooling ops forward and backward on the GPU against the CPU
// (tests/support/device_parity.h), with graft's GPU kernels and with cuDNN's where they exist.
#include <string>
#include <vector>

#include "core/kernel_choice.h"
#include "core/ops/ops.h"
#include "tests/support/device_parity.h"
#include "tests/support/gpu.h"

namespace graft {
namespace {

using testing::random_tensor;
using testing::same_on_gpu;
using Inputs = std::vector<Tensor>;

class CudaConvOps : public ::testing::TestWithParam<KernelSource> {
 protected:
  void SetUp() override {
    GRAFT_REQUIRE_GPU();
    set_kernel_source(KernelFamily::conv2d, GetParam());
    set_kernel_source(KernelFamily::batch_norm, GetParam());
  }
  void TearDown() override {
    set_kernel_source(KernelFamily::conv2d, KernelSource::own);
    set_kernel_source(KernelFamily::batch_norm, KernelSource::own);
  }
};

TEST_P(CudaConvOps, Conv2dStridedPaddedDilatedGrouped) {
  const Tensor x = random_tensor({2, 6, 13, 11}, 1, true), b = random_tensor({8}, 2, true);
  const Tensor w3 = random_tensor({8, 6, 3, 3}, 3, true), w1 = random_tensor({8, 6, 1, 1}, 4, true);
  const Tensor grouped = random_tensor({8, 3, 3, 3}, 5, true), depthwise = random_tensor({6, 1, 3, 3}, 6, true);
  const testing::DeviceParityTolerance tolerance{1e-4, 1e-4};
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}); }, {x, w3, b},
                          tolerance));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::conv2d(v[0], v[1], Tensor(), {2, 2}, {0, 0}); }, {x, w1},
                          tolerance));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::conv2d(v[0], v[1], Tensor(), {2, 1}, {2, 2}, {2, 2}); },
                          {x, w3}, tolerance));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}, {1, 1}, 2); },
                          {x, grouped, b}, tolerance));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::conv2d(v[0], v[1], Tensor(), {1, 1}, {1, 1}, {1, 1}, 6); },
                          {x, depthwise}, tolerance));
}

TEST_P(CudaConvOps, BatchNormTrainingAndEvaluation) {
  const Tensor x = random_tensor({4, 5, 7, 9}, 7, true);
  const Tensor weight = random_tensor({5}, 8, true), bias = random_tensor({5}, 9, true);
  const Tensor mean = random_tensor({5}, 10), var = random_tensor({5}, 11) * random_tensor({5}, 11) + 0.5;
  const testing::DeviceParityTolerance tolerance{1e-4, 1e-4};
  // Training also updates the running statistics in place: compare them through the output.
  EXPECT_TRUE(same_on_gpu(
      [](const Inputs& v) {
        const Tensor running_mean = v[3].clone(), running_var = v[4].clone();
        const Tensor y = ops::batch_norm(v[0], running_mean, running_var, v[1], v[2], true, 0.1, 1e-5);
        return ops::cat({y.flatten(), running_mean, running_var});
      },
      {x, weight, bias, mean, var}, tolerance));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::batch_norm(v[0], v[3], v[4], v[1], v[2], false); },
                          {x, weight, bias, mean, var}, tolerance));
  const Tensor features = random_tensor({16, 5}, 12, true);  // [N, C]: hw = 1
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::batch_norm(v[0], Tensor(), Tensor(), v[1], v[2], true); },
                          {features, weight, bias}, tolerance));
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaConvOps, ::testing::Values(KernelSource::own, KernelSource::vendor),
                         [](const auto& info) { return std::string(kernel_source_name(info.param)); });

TEST(CudaPoolOps, MaxAvgAndAdaptivePooling) {
  GRAFT_REQUIRE_GPU();
  const Tensor x = random_tensor({2, 3, 15, 12}, 13, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::max_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}); }, {x}));
  EXPECT_TRUE(same_on_gpu(
      [](const Inputs& v) { return ops::max_pool2d(v[0], {2, 3}, {2, 2}, {1, 1}, {2, 1}, /*ceil_mode=*/true); }, {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::avg_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}, true, false); },
                          {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::adaptive_avg_pool2d(v[0], {1, 1}); }, {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::adaptive_avg_pool2d(v[0], {4, 5}); }, {x}));
}

}  // namespace
}  // namespace graft
