// The CUDA optimizer updates against their CPU twins, bit for bit: both sides run the same
// operations in the same order, fuse exactly the same multiply-adds (std::fma on the CPU,
// __fmaf_rn / __fma_rn on the GPU, with -fmad=false so nvcc fuses nothing else) and round every
// operation, sqrt and division included, correctly. The multi-tensor versions must equal the
// single-tensor ones bit for bit too. sum_of_squares adds in double in another order than the CPU
// twin: exact on integers, within 1e-12 relative on random values.
#include "kernels/optim.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/cuda/cuda_kernel_testing.h"
#include "tests/kernels/light_kernel_testing.h"
#include "tests/support/gpu.h"

namespace graft::kernels {
namespace {

using graft::testing::DeviceBuffer;
using testing::OffsetBuffer;
using testing::random_values;
using testing::bit_identical;

const int64_t kSizes[] = {1, 31, 33, 1025, 8193, (int64_t{1} << 20) + 3};

template <typename T>
class CudaOptim : public ::testing::Test {};
TYPED_TEST_SUITE(CudaOptim, testing::FloatTypes);

std::vector<cpu::SgdHyperparameters> sgd_settings() {
  std::vector<cpu::SgdHyperparameters> settings;
  for (double weight_decay : {0.0, 1e-4})
    for (double momentum : {0.0, 0.9})
      for (bool nesterov : {false, true}) {
        if (nesterov && momentum == 0) continue;
        settings.push_back({.lr = 0.05,
                            .weight_decay = weight_decay,
                            .momentum = momentum,
                            .dampening = nesterov ? 0.0 : 0.1,
                            .nesterov = nesterov});
      }
  return settings;
}

std::vector<cpu::AdamHyperparameters> adam_settings() {
  std::vector<cpu::AdamHyperparameters> settings;
  for (double weight_decay : {0.0, 0.01})
    for (bool decoupled : {false, true})
      for (bool amsgrad : {false, true})
        settings.push_back({.lr = 1e-3,
                            .beta1 = 0.9,
                            .beta2 = 0.999,
                            .eps = 1e-8,
                            .weight_decay = weight_decay,
                            .decoupled_weight_decay = decoupled,
                            .amsgrad = amsgrad});
  return settings;
}

TYPED_TEST(CudaOptim, SgdEqualsCpuTwinBitForBit) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const auto& h : sgd_settings())
    for (int64_t n : kSizes)
      for (bool first_step : {true, false}) {
        auto param = random_values<T>(n, 1), buffer = random_values<T>(n, 2);
        const auto grad = random_values<T>(n, 3);
        DeviceBuffer<T> param_gpu(param), buffer_gpu(buffer);
        const DeviceBuffer<T> grad_gpu(grad);
        cpu::sgd_update(n, param.data(), grad.data(), buffer.data(), first_step, h);
        cuda::sgd_update(n, param_gpu.get(), grad_gpu.get(), buffer_gpu.get(), first_step, h, nullptr);
        EXPECT_TRUE(bit_identical(param_gpu.download(), param))
            << "n " << n << ", momentum " << h.momentum << ", decay " << h.weight_decay << ", nesterov " << h.nesterov
            << ", first step " << first_step;
        EXPECT_TRUE(bit_identical(buffer_gpu.download(), buffer)) << "momentum buffer, n " << n;
      }
}

TYPED_TEST(CudaOptim, AdamEqualsCpuTwinBitForBit) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const auto& h : adam_settings())
    for (int64_t n : kSizes)
      for (int64_t step : {1, 7}) {
        auto param = random_values<T>(n, 4), m = random_values<T>(n, 5, -0.1, 0.1);
        auto v = random_values<T>(n, 6, 0.0, 0.01), v_max = random_values<T>(n, 7, 0.0, 0.01);
        const auto grad = random_values<T>(n, 8);
        DeviceBuffer<T> param_gpu(param), m_gpu(m), v_gpu(v), v_max_gpu(v_max);
        const DeviceBuffer<T> grad_gpu(grad);
        cpu::adam_update(n, param.data(), grad.data(), m.data(), v.data(), v_max.data(), step, h);
        cuda::adam_update(n, param_gpu.get(), grad_gpu.get(), m_gpu.get(), v_gpu.get(), v_max_gpu.get(), step, h,
                          nullptr);
        const std::string what = "n " + std::to_string(n) + ", step " + std::to_string(step) + ", decay " +
                                 std::to_string(h.weight_decay) + (h.decoupled_weight_decay ? " decoupled" : "") +
                                 (h.amsgrad ? ", amsgrad" : "");
        EXPECT_TRUE(bit_identical(param_gpu.download(), param)) << what;
        EXPECT_TRUE(bit_identical(m_gpu.download(), m)) << "exp_avg, " << what;
        EXPECT_TRUE(bit_identical(v_gpu.download(), v)) << "exp_avg_sq, " << what;
        EXPECT_TRUE(bit_identical(v_max_gpu.download(), v_max)) << "max_exp_avg_sq, " << what;
      }
}

// Tensor sizes for the multi-tensor tests: empty ones, chunk edges (8192), odd sizes, and more
// tensors than one launch holds, so that several launches are needed.
std::vector<int64_t> many_sizes() {
  std::vector<int64_t> sizes = {0, 1, 8191, 8192, 8193, 0, 100003, 31, 33, 64 * 1024 + 5};
  std::mt19937 rng(9);
  for (int k = 0; k < 140; ++k) sizes.push_back(int64_t(rng() % 3000));
  return sizes;
}

// Several tensors of random values on the GPU, one buffer each.
template <typename T>
class TensorSet {
 public:
  TensorSet(const std::vector<int64_t>& sizes, uint32_t seed, double lo, double hi) {
    for (size_t k = 0; k < sizes.size(); ++k)
      buffers_.push_back(std::make_unique<DeviceBuffer<T>>(random_values<T>(sizes[k], seed + uint32_t(k), lo, hi)));
  }
  T* operator[](size_t k) const { return buffers_[k]->get(); }
  std::vector<T> download(size_t k) const { return buffers_[k]->download(); }

 private:
  std::vector<std::unique_ptr<DeviceBuffer<T>>> buffers_;
};

TYPED_TEST(CudaOptim, SgdManyEqualsSingleTensorUpdates) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  const auto sizes = many_sizes();
  for (const auto& h : sgd_settings()) {
    const TensorSet<T> param(sizes, 100, -1, 1), grad(sizes, 300, -1, 1), buffer(sizes, 500, -1, 1);
    const TensorSet<T> param_one(sizes, 100, -1, 1), buffer_one(sizes, 500, -1, 1);
    std::vector<cuda::SgdTensor<T>> tensors;
    for (size_t k = 0; k < sizes.size(); ++k) {
      const bool first_step = k % 3 == 0;
      tensors.push_back({param[k], grad[k], buffer[k], sizes[k], first_step});
      cuda::sgd_update(sizes[k], param_one[k], grad[k], buffer_one[k], first_step, h, nullptr);
    }
    cuda::sgd_update_many(tensors.data(), int64_t(tensors.size()), h, nullptr);
    for (size_t k = 0; k < sizes.size(); ++k) {
      ASSERT_TRUE(bit_identical(param.download(k), param_one.download(k))) << "tensor " << k << " of " << sizes[k];
      ASSERT_TRUE(bit_identical(buffer.download(k), buffer_one.download(k))) << "buffer " << k;
    }
  }
}

TYPED_TEST(CudaOptim, AdamManyEqualsSingleTensorUpdates) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  const auto sizes = many_sizes();
  for (const auto& h : adam_settings()) {
    const TensorSet<T> param(sizes, 100, -1, 1), grad(sizes, 300, -1, 1), m(sizes, 500, -0.1, 0.1),
        v(sizes, 700, 0, 0.01), v_max(sizes, 900, 0, 0.01);
    const TensorSet<T> param_one(sizes, 100, -1, 1), m_one(sizes, 500, -0.1, 0.1), v_one(sizes, 700, 0, 0.01),
        v_max_one(sizes, 900, 0, 0.01);
    std::vector<cuda::AdamTensor<T>> tensors;
    for (size_t k = 0; k < sizes.size(); ++k) {
      const int64_t step = 1 + int64_t(k % 4);  // tensors may be at different steps
      tensors.push_back({param[k], grad[k], m[k], v[k], h.amsgrad ? v_max[k] : nullptr, sizes[k], step});
      cuda::adam_update(sizes[k], param_one[k], grad[k], m_one[k], v_one[k], v_max_one[k], step, h, nullptr);
    }
    cuda::adam_update_many(tensors.data(), int64_t(tensors.size()), h, nullptr);
    for (size_t k = 0; k < sizes.size(); ++k) {
      ASSERT_TRUE(bit_identical(param.download(k), param_one.download(k))) << "tensor " << k << " of " << sizes[k];
      ASSERT_TRUE(bit_identical(m.download(k), m_one.download(k))) << "exp_avg " << k;
      ASSERT_TRUE(bit_identical(v.download(k), v_one.download(k))) << "exp_avg_sq " << k;
      if (h.amsgrad) {
        ASSERT_TRUE(bit_identical(v_max.download(k), v_max_one.download(k))) << "max_exp_avg_sq " << k;
      }
    }
  }
}

TYPED_TEST(CudaOptim, SumOfSquaresMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{31}, int64_t{32}, int64_t{33}, int64_t{1025}, int64_t{16384},
                    int64_t{16385}, (int64_t{1} << 22) + 1}) {
    for (int64_t offset : {0, 1}) {
      // Small integers: every order of the double sum is exact.
      std::vector<T> ints(n);
      for (int64_t i = 0; i < n; ++i) ints[i] = T(int64_t(i * 7919) % 9 - 4);
      const auto values = random_values<T>(n, 10);
      const OffsetBuffer<T> ints_gpu(ints, offset), values_gpu(values, offset);
      DeviceBuffer<double> result(std::vector<double>{-1.0, -1.0, -1.0});
      cuda::sum_of_squares(ints_gpu.get(), n, result.get(), nullptr);
      cuda::sum_of_squares(values_gpu.get(), n, result.get() + 1, nullptr);
      cuda::sum_of_squares(values_gpu.get(), n, result.get() + 2, nullptr);
      const auto r = result.download();
      EXPECT_EQ(r[0], cpu::sum_of_squares(ints.data(), n)) << "n " << n << ", offset " << offset;
      const double expected = cpu::sum_of_squares(values.data(), n);
      EXPECT_NEAR(r[1], expected, 1e-12 * expected) << "n " << n << ", offset " << offset;
      EXPECT_EQ(r[1], r[2]) << "not deterministic, n " << n;
    }
  }
}

TYPED_TEST(CudaOptim, ScaleInPlaceEqualsCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (int64_t n : kSizes)
    for (int64_t offset : {0, 1}) {
      auto x = random_values<T>(n, 11);
      OffsetBuffer<T> x_gpu(x, offset);
      cpu::scale_in_place(x.data(), n, T(0.3));
      cuda::scale_in_place(x_gpu.get(), n, T(0.3), nullptr);
      EXPECT_TRUE(bit_identical(x_gpu.download(), x)) << "n " << n << ", offset " << offset;
    }
}

TYPED_TEST(CudaOptim, RejectsMissingStateAndNegativeSizes) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  DeviceBuffer<T> p(std::vector<T>(4, T(1)));
  cpu::SgdHyperparameters sgd{.lr = 0.1, .momentum = 0.9};
  EXPECT_THROW(cuda::sgd_update<T>(4, p.get(), p.get(), nullptr, false, sgd, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::sgd_update<T>(-1, p.get(), p.get(), p.get(), false, sgd, nullptr), std::invalid_argument);
  const cuda::SgdTensor<T> no_buffer{p.get(), p.get(), nullptr, 4, false};
  EXPECT_THROW(cuda::sgd_update_many(&no_buffer, 1, sgd, nullptr), std::invalid_argument);
  cpu::AdamHyperparameters adam{.lr = 1e-3, .amsgrad = true};
  EXPECT_THROW(cuda::adam_update<T>(4, p.get(), p.get(), p.get(), p.get(), nullptr, 1, adam, nullptr),
               std::invalid_argument);
  EXPECT_THROW(cuda::sum_of_squares<T>(p.get(), 4, nullptr, nullptr), std::invalid_argument);
  EXPECT_EQ(p.download(), std::vector<T>(4, T(1)));  // nothing ran
}

}  // namespace
}  // namespace graft::kernels
