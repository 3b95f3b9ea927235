// The CUDA log_softmax and cross-entropy kernels against their CPU twins. Both take the max in T
// and sum exponentials in double; they differ in the order of the double sums and in the last bit
// of exp and log (CUDA's are within 1 ulp, glibc's within 1 ulp), which leaves each result within
// one rounding of T of the CPU twin's. The tolerance is tolerance<T>() relative (at least 1 in
// magnitude): 2e-6 for float (about 16 ulps), 1e-12 for double.
#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/light_kernel_testing.h"
#include "tests/support/gpu.h"

namespace graft::kernels {
namespace {

using graft::testing::DeviceBuffer;
using testing::random_values;
using testing::tolerance;

// Every actual[i] within tolerance<T>() * max(1, |expected[i]|) of expected[i]; NaN must match NaN
// and an infinity the same infinity.
template <typename T>
void expect_close(const std::vector<T>& actual, const std::vector<T>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < actual.size() && reported < 10; ++i) {
    const double a = actual[i], e = expected[i];
    const bool ok =
        std::isnan(e) ? std::isnan(a) : a == e || std::abs(a - e) <= tolerance<T>() * std::max(1.0, std::abs(e));
    if (!ok) {
      ADD_FAILURE() << what << " [" << i << "]: got " << a << ", expected " << e;
      ++reported;
    }
  }
}

struct Shape {
  int64_t outer, dim, inner;
};

// Warp per row (dim <= 1024, including 1, 31-33 and 1024), block per row (1025 and up), and the
// column walk (inner > 1: a class axis in the middle, dims of 1, long columns).
const Shape kShapes[] = {{4, 10, 1},   {1, 1000, 1}, {64, 1000, 1}, {33, 31, 1},  {5, 32, 1},   {3, 33, 1},
                         {7, 1024, 1}, {3, 1025, 1}, {2, 5000, 1},  {1, 1, 1},    {9, 1, 1},    {3, 5, 7},
                         {2, 3, 130},  {5, 1, 3},    {2, 40, 900},  {2, 2000, 3}, {1025, 7, 2}, {4096, 100, 1}};

template <typename T>
class CudaSoftmax : public ::testing::Test {};
TYPED_TEST_SUITE(CudaSoftmax, testing::FloatTypes);

template <typename T>
void check_log_softmax(const Shape& s, const std::vector<T>& x, const std::vector<T>& dy) {
  const int64_t n = s.outer * s.dim * s.inner;
  std::vector<T> y(n), dx(n);
  cpu::log_softmax_forward(x.data(), s.outer, s.dim, s.inner, y.data());
  cpu::log_softmax_backward(dy.data(), y.data(), s.outer, s.dim, s.inner, dx.data());
  const DeviceBuffer<T> x_gpu(x), dy_gpu(dy), y_in_gpu(y);
  DeviceBuffer<T> y_gpu(std::vector<T>(n, T(-7))), dx_gpu(std::vector<T>(n, T(-7)));
  cuda::log_softmax_forward(x_gpu.get(), s.outer, s.dim, s.inner, y_gpu.get(), nullptr);
  // The backward pass reads the CPU twin's y, so each kernel is checked on its own.
  cuda::log_softmax_backward(dy_gpu.get(), y_in_gpu.get(), s.outer, s.dim, s.inner, dx_gpu.get(), nullptr);
  const std::string where = std::to_string(s.outer) + "x" + std::to_string(s.dim) + "x" + std::to_string(s.inner);
  expect_close(y_gpu.download(), y, "log_softmax_forward " + where);
  expect_close(dx_gpu.download(), dx, "log_softmax_backward " + where);
}

TYPED_TEST(CudaSoftmax, LogSoftmaxMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kShapes) {
    const int64_t n = s.outer * s.dim * s.inner;
    check_log_softmax<T>(s, random_values<T>(n, 1, -20.0, 20.0), random_values<T>(n, 2));
  }
}

TYPED_TEST(CudaSoftmax, LogSoftmaxEdgeValuesMatchCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  for (const Shape& s : {Shape{6, 40, 1}, Shape{6, 2000, 1}, Shape{6, 7, 20}}) {
    const int64_t n = s.outer * s.dim * s.inner;
    auto x = random_values<T>(n, 3, -5.0, 5.0);
    auto at = [&](int64_t o, int64_t d, int64_t i) -> T& { return x[(o * s.dim + d) * s.inner + i]; };
    for (int64_t i = 0; i < s.inner; ++i) {
      at(0, 1, i) = -inf;                                         // a zero probability
      for (int64_t d = 0; d < s.dim; ++d) at(1, d, i) += T(1e4);  // large logits: shift invariance
      at(2, s.dim - 1, i) = nan;                                  // a NaN row: all NaN
      for (int64_t d = 0; d < s.dim; ++d) at(3, d, i) = T(0.5);   // uniform
      at(4, 0, i) = inf;                                          // +inf: NaN as in the CPU twin
      for (int64_t d = 0; d < s.dim; ++d) at(5, d, i) = -inf;     // all -inf: NaN
    }
    check_log_softmax<T>(s, x, random_values<T>(n, 4));
  }
}

TYPED_TEST(CudaSoftmax, LogSoftmaxRejectsNegativeSizes) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  DeviceBuffer<T> x(std::vector<T>{T(1)});
  EXPECT_THROW(cuda::log_softmax_forward(x.get(), -1, 1, 1, x.get(), nullptr), std::invalid_argument);
  cuda::log_softmax_forward(x.get(), 0, 5, 1, x.get(), nullptr);  // nothing to do
  EXPECT_EQ(x.download(), std::vector<T>{T(1)});
}

// Targets in [0, c) with about one in five set to ignore_index.
std::vector<int64_t> random_targets(int64_t n, int64_t c, int64_t ignore_index, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> t(n);
  for (int64_t& v : t) v = rng() % 5 == 0 ? ignore_index : int64_t(rng() % uint32_t(c));
  return t;
}

template <typename T>
void check_cross_entropy(int64_t n, int64_t c, int64_t ignore_index, double smoothing, uint32_t seed) {
  const auto logits = random_values<T>(n * c, seed, -8.0, 8.0);
  const auto target = random_targets(n, c, ignore_index, seed + 1);
  const auto dloss = random_values<T>(n, seed + 2, 0.1, 2.0);
  std::vector<T> log_probs(n * c), loss(n), dlogits(n * c);
  const int64_t count = cpu::cross_entropy_forward(logits.data(), target.data(), n, c, ignore_index, smoothing,
                                                   log_probs.data(), loss.data());
  cpu::cross_entropy_backward(log_probs.data(), target.data(), n, c, ignore_index, smoothing, dloss.data(),
                              dlogits.data());

  const DeviceBuffer<T> logits_gpu(logits), dloss_gpu(dloss), log_probs_in_gpu(log_probs);
  const DeviceBuffer<int64_t> target_gpu(target);
  DeviceBuffer<T> log_probs_gpu(std::vector<T>(n * c, T(-7))), loss_gpu(std::vector<T>(n, T(-7)));
  DeviceBuffer<T> dlogits_gpu(std::vector<T>(n * c, T(-7)));
  DeviceBuffer<int64_t> count_gpu(std::vector<int64_t>{-1});
  cuda::cross_entropy_forward(logits_gpu.get(), target_gpu.get(), n, c, ignore_index, smoothing, log_probs_gpu.get(),
                              loss_gpu.get(), count_gpu.get(), nullptr);
  cuda::cross_entropy_backward(log_probs_in_gpu.get(), target_gpu.get(), n, c, ignore_index, smoothing, dloss_gpu.get(),
                               dlogits_gpu.get(), nullptr);

  const std::string where = std::to_string(n) + "x" + std::to_string(c) + ", ignore_index " +
                            std::to_string(ignore_index) + ", smoothing " + std::to_string(smoothing);
  EXPECT_EQ(count_gpu.download(), std::vector<int64_t>{count}) << where;
  expect_close(log_probs_gpu.download(), log_probs, "log_probs " + where);
  expect_close(loss_gpu.download(), loss, "loss " + where);
  expect_close(dlogits_gpu.download(), dlogits, "dlogits " + where);
}

TYPED_TEST(CudaSoftmax, CrossEntropyMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  uint32_t seed = 10;
  for (int64_t n : {1, 7, 33, 1025})
    for (int64_t c : {1, 2, 10, 1000, 1024, 1025, 5000})
      for (double smoothing : {0.0, 0.1}) check_cross_entropy<T>(n, c, -100, smoothing, seed++);
  // ignore_index may be a valid class.
  check_cross_entropy<T>(65, 10, 3, 0.0, seed++);
  check_cross_entropy<T>(65, 10, 3, 0.25, seed++);
}

TYPED_TEST(CudaSoftmax, CrossEntropyEdgeCases) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  // No samples: the count is still written.
  DeviceBuffer<int64_t> count(std::vector<int64_t>{-1});
  cuda::cross_entropy_forward<T>(nullptr, nullptr, 0, 10, -100, 0.0, nullptr, nullptr, count.get(), nullptr);
  EXPECT_EQ(count.download(), std::vector<int64_t>{0});
  // A target out of range gives NaN for that sample only, never a bad access; null count is fine.
  const int64_t n = 3, c = 4;
  const DeviceBuffer<T> logits(random_values<T>(n * c, 20));
  const DeviceBuffer<int64_t> target(std::vector<int64_t>{1, 4, -1});
  DeviceBuffer<T> log_probs(n * c), loss(n), dlogits(n * c);
  const DeviceBuffer<T> dloss(std::vector<T>(n, T(1)));
  cuda::cross_entropy_forward(logits.get(), target.get(), n, c, -100, 0.0, log_probs.get(), loss.get(), nullptr,
                              nullptr);
  cuda::cross_entropy_backward(log_probs.get(), target.get(), n, c, -100, 0.0, dloss.get(), dlogits.get(), nullptr);
  const auto l = loss.download();
  EXPECT_FALSE(std::isnan(l[0]));
  EXPECT_TRUE(std::isnan(l[1]));
  EXPECT_TRUE(std::isnan(l[2]));
  const auto g = dlogits.download();
  for (int64_t j = 0; j < c; ++j) {
    EXPECT_FALSE(std::isnan(g[j]));
    EXPECT_TRUE(std::isnan(g[c + j]));
  }
  EXPECT_THROW(cuda::cross_entropy_forward(logits.get(), target.get(), n, 0, -100, 0.0, log_probs.get(), loss.get(),
                                           nullptr, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace graft::kernels
