// Every op of the core engine outside convolution, batch norm and pooling, forward and backward on
// the GPU against the same run on the CPU (tests/support/device_parity.h). Sums and GEMMs add in
// another order on the GPU, so results agree to a few float roundings, not bit for bit.
#include <vector>

#include "core/kernel_choice.h"
#include "core/ops/ops.h"
#include "core/rng.h"
#include "tests/support/compare.h"
#include "tests/support/device_parity.h"
#include "tests/support/errors.h"
#include "tests/support/gpu.h"

namespace graft {
namespace {

using testing::random_tensor;
using testing::same_on_gpu;
using Inputs = std::vector<Tensor>;

TEST(CudaOps, BroadcastArithmetic) {
  GRAFT_REQUIRE_GPU();
  const Tensor a = random_tensor({4, 3, 5}, 1, true), b = random_tensor({3, 1}, 2, true);
  const Tensor positive = random_tensor({5}, 3, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& x) { return x[0] + x[1]; }, {a, b}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& x) { return x[0] - x[1] * 2.0; }, {a, b}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& x) { return x[0] * x[1]; }, {a, b}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& x) { return x[0] / (x[1] * x[1] + 1.0); }, {a, positive}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& x) { return -x[0].permute({2, 0, 1}); }, {a}));
}

TEST(CudaOps, ReluDropoutAndViews) {
  GRAFT_REQUIRE_GPU();
  const Tensor x = random_tensor({6, 7, 9}, 4, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::relu(v[0]); }, {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::relu(v[0].transpose(0, 2)).contiguous(); }, {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return v[0].slice(1, 1, 6, 2).reshape({6, -1}); }, {x}));
  // The same generator state draws the same mask on both devices.
  EXPECT_TRUE(same_on_gpu(
      [](const Inputs& v) {
        Generator generator(11);
        return ops::dropout(v[0], 0.3, true, generator);
      },
      {x}, {0, 0}));
}

TEST(CudaOps, SumMeanAndCat) {
  GRAFT_REQUIRE_GPU();
  const Tensor x = random_tensor({5, 1, 33, 4}, 5, true), y = random_tensor({5, 2, 33, 4}, 6, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::sum(v[0]); }, {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::sum(v[0], {0, 2}, true); }, {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::mean(v[0], {-1}); }, {x}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::cat({v[0], v[1], v[0]}, 1); }, {x, y}));
}

TEST(CudaOps, LogSoftmaxAndLosses) {
  GRAFT_REQUIRE_GPU();
  const Tensor logits = random_tensor({13, 10}, 7, true);
  const Tensor target = Tensor::from_vector<int64_t>({0, 9, 3, -100, 5, 5, 1, 2, 8, 7, 6, 4, -100}, {13});
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::log_softmax(v[0], 1); }, {logits}));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::log_softmax(v[0].view({13, 2, 5}), 1); }, {logits}));
  for (ops::Reduction reduction : {ops::Reduction::none, ops::Reduction::sum, ops::Reduction::mean}) {
    EXPECT_TRUE(same_on_gpu([&](const Inputs& v) { return ops::cross_entropy(v[0], v[1], reduction, -100, 0.1); },
                            {logits, target}));
  }
  // Class weights: the weighted form is composed of other ops, the targets' weights built on the host.
  const Tensor weight = Tensor::from_vector<float>({0.5f, 1, 2, 0.25f, 1, 3, 1, 0.75f, 1.5f, 1}, {10});
  for (ops::Reduction reduction : {ops::Reduction::none, ops::Reduction::mean}) {
    EXPECT_TRUE(same_on_gpu(
        [&](const Inputs& v) { return ops::cross_entropy(v[0], v[1], v[2], reduction, -100, 0.1); },
        {logits, target, weight}));
  }
  const Tensor prediction = random_tensor({4, 6}, 8, true), wanted = random_tensor({4, 6}, 9, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::mse_loss(v[0], v[1]); }, {prediction, wanted}));
}

TEST(CudaOps, CrossEntropyRejectsBadTargetsOnTheGpu) {
  GRAFT_REQUIRE_GPU();
  const Tensor logits = random_tensor({2, 3}, 10).to(Device::cuda());
  const Tensor target = Tensor::from_vector<int64_t>({1, 3}, {2}).to(Device::cuda());
  testing::expect_error([&] { ops::cross_entropy(logits, target); }, "cross_entropy", "target[1] = 3 is out of range");
}

// Linear and matmul with graft's kernels, then with cuBLAS, then in TF32.
class CudaGemmOps : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    GRAFT_REQUIRE_GPU();
    const std::string mode = GetParam();
    set_kernel_source(KernelFamily::gemm, mode == "vendor" ? KernelSource::vendor : KernelSource::own);
    set_allow_tf32(mode == "tf32");
    // TF32 keeps 10 mantissa bits: products of O(1) values over K = 37 terms differ by ~1e-3.
    tolerance_ = mode == "tf32" ? testing::DeviceParityTolerance{1e-2, 5e-3} : testing::DeviceParityTolerance{};
  }
  void TearDown() override {
    set_kernel_source(KernelFamily::gemm, KernelSource::own);
    set_allow_tf32(false);
  }
  testing::DeviceParityTolerance tolerance_;
};

TEST_P(CudaGemmOps, LinearWithAndWithoutBias) {
  const Tensor x = random_tensor({3, 11, 37}, 12, true);
  const Tensor w = random_tensor({29, 37}, 13, true), b = random_tensor({29}, 14, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::linear(v[0], v[1], v[2]); }, {x, w, b}, tolerance_));
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::linear(v[0], v[1]); }, {x, w}, tolerance_));
}

TEST_P(CudaGemmOps, MatmulPlainBatchedAndShared) {
  const Tensor a = random_tensor({17, 37}, 15, true), b = random_tensor({37, 9}, 16, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::matmul(v[0], v[1]); }, {a, b}, tolerance_));
  const Tensor batch_a = random_tensor({4, 17, 37}, 17, true), shared_b = random_tensor({1, 37, 9}, 18, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::matmul(v[0], v[1]); }, {batch_a, shared_b}, tolerance_));
  const Tensor shared_a = random_tensor({1, 17, 37}, 19, true), batch_b = random_tensor({4, 37, 9}, 20, true);
  EXPECT_TRUE(same_on_gpu([](const Inputs& v) { return ops::matmul(v[0], v[1]); }, {shared_a, batch_b}, tolerance_));
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaGemmOps, ::testing::Values("own", "vendor", "tf32"));

TEST(CudaOps, Float64GemmIsAClearError) {
  GRAFT_REQUIRE_GPU();
  const Tensor a = random_tensor({2, 2}, 21).to(DType::f64).to(Device::cuda());
  testing::expect_error([&] { ops::matmul(a, a); }, "gemm", "float32 only");
}

TEST(CudaOps, MixedDevicesAreAClearError) {
  GRAFT_REQUIRE_GPU();
  const Tensor a = random_tensor({2, 2}, 22);
  testing::expect_error([&] { ops::add(a, a.to(Device::cuda())); }, "add", "move one with .to(device)");
}

}  // namespace
}  // namespace graft
