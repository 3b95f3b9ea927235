// The CUDA sum_reduce against its CPU twin. Both accumulate in double, in different orders, so:
// - small integers sum exactly in any order: there the results must be identical (this checks
//   every index and every partial sum of every plan: warp per run, block per chunk with a second
//   pass, thread per column, column tiles split over the reduced axis);
// - random values: each output within 1e-12 of the sum of |x| over its column (the double
//   rounding of either order), plus one rounding of T;
// - and two runs on the GPU give the same bits (no atomics).
#include "kernels/reduce.h"

#include <cmath>
#include <cstdint>
#include <limits>
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

struct Shape {
  int64_t outer, reduce, inner;
};

// Every plan and its edges: runs of 1, 31-33 and 512-513 elements (the warp/block switch), long runs
// split into chunks (also 1 << 22 in one run), many runs; then columns: tiles with and without
// splits, fewer than 32 columns, enough columns for one thread each.
const Shape kShapes[] = {
    {1, 1, 1},       {5, 31, 1},     {7, 32, 1},
    {3, 33, 1},      {4, 512, 1},    {4, 513, 1},
    {1025, 100, 1},  {3, 100003, 1}, {1, (1 << 22) + 1, 1},
    {5000, 600, 1},  {2, 3, 130},    {1, 1000, 33},
    {1, 1 << 20, 3}, {32, 64, 3136}, {1, 4, 1 << 20},
    {3, 1, 5},       {2, 70000, 40}, {1025, 1, 1},
};

template <typename T>
std::vector<T> small_integers(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-3, 3);
  std::vector<T> v(n);
  for (T& x : v) x = T(dist(rng));
  return v;
}

template <typename T>
std::vector<T> gpu_sum(const std::vector<T>& x, const Shape& s, int64_t offset = 0) {
  const OffsetBuffer<T> in(x, offset);
  DeviceBuffer<T> out(std::vector<T>(s.outer * s.inner, T(-7)));
  cuda::sum_reduce(in.get(), s.outer, s.reduce, s.inner, out.get(), nullptr);
  return out.download();
}

template <typename T>
std::vector<T> cpu_sum(const std::vector<T>& x, const Shape& s) {
  std::vector<T> out(s.outer * s.inner, T(-7));
  cpu::sum_reduce(x.data(), s.outer, s.reduce, s.inner, out.data());
  return out;
}

template <typename T>
class CudaReduce : public ::testing::Test {};
TYPED_TEST_SUITE(CudaReduce, testing::FloatTypes);

TYPED_TEST(CudaReduce, ExactSumsEqualCpuTwinForEveryPlan) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kShapes) {
    const auto x = small_integers<T>(s.outer * s.reduce * s.inner, 1);
    const auto expected = cpu_sum(x, s);
    EXPECT_TRUE(bit_identical(gpu_sum(x, s), expected)) << s.outer << "x" << s.reduce << "x" << s.inner;
    EXPECT_TRUE(bit_identical(gpu_sum(x, s, 1), expected)) << s.outer << "x" << s.reduce << "x" << s.inner << " unaligned";
  }
}

TYPED_TEST(CudaReduce, RandomSumsAreCloseToCpuTwinAndRepeatBitForBit) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kShapes) {
    const auto x = random_values<T>(s.outer * s.reduce * s.inner, 2);
    const auto expected = cpu_sum(x, s);
    const auto actual = gpu_sum(x, s);
    EXPECT_TRUE(bit_identical(gpu_sum(x, s), actual))
        << "not deterministic: " << s.outer << "x" << s.reduce << "x" << s.inner;
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t i = 0; i < s.inner; ++i) {
        double magnitude = 0;
        for (int64_t r = 0; r < s.reduce; ++r) magnitude += std::abs(double(x[(o * s.reduce + r) * s.inner + i]));
        const int64_t j = o * s.inner + i;
        const double tol = 1e-12 * magnitude + std::numeric_limits<T>::epsilon() * std::abs(double(expected[j]));
        ASSERT_LE(std::abs(double(actual[j]) - double(expected[j])), tol)
            << s.outer << "x" << s.reduce << "x" << s.inner << " at " << j;
      }
  }
}

TYPED_TEST(CudaReduce, EmptyAxesAndBadSizes) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  // Nothing to reduce: zeros.
  EXPECT_EQ(gpu_sum<T>({}, {3, 0, 4}), std::vector<T>(12, T(0)));
  // No outputs: nothing written, no launch.
  DeviceBuffer<T> out(std::vector<T>{T(-7)});
  const DeviceBuffer<T> x(std::vector<T>{T(1)});
  cuda::sum_reduce(x.get(), 0, 5, 3, out.get(), nullptr);
  cuda::sum_reduce(x.get(), 2, 5, 0, out.get(), nullptr);
  EXPECT_EQ(out.download(), std::vector<T>{T(-7)});
  EXPECT_THROW(cuda::sum_reduce(x.get(), 1, -1, 1, out.get(), nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace graft::kernels
