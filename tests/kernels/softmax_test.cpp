#include "kernels/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/light_kernel_testing.h"

namespace graft::kernels {
namespace {

using testing::bit_identical;
using testing::expect_close;
using testing::random_values;
using testing::ThreadCount;
using testing::tolerance;

// log_softmax along the middle axis, from the definition in double.
template <typename T>
std::vector<double> naive_log_softmax(const std::vector<T>& x, int64_t outer, int64_t dim, int64_t inner) {
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t d) { return (o * dim + d) * inner + i; };
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t d = 0; d < dim; ++d) max = std::max(max, double(x[at(d)]));
      double sum = 0;
      for (int64_t d = 0; d < dim; ++d) sum += std::exp(x[at(d)] - max);
      for (int64_t d = 0; d < dim; ++d) y[at(d)] = x[at(d)] - max - std::log(sum);
    }
  return y;
}

template <typename T>
class SoftmaxKernelTest : public ::testing::Test {};
TYPED_TEST_SUITE(SoftmaxKernelTest, testing::FloatTypes);

struct Shape {
  int64_t outer, dim, inner;
};

// Rows (inner 1), a class axis in the middle, more columns than one tile, dim 1, and sizes that
// spread over two threads.
const Shape kShapes[] = {{4, 10, 1}, {1, 1000, 1}, {3, 5, 7}, {2, 3, 130}, {5, 1, 3}, {1, 1, 1}, {64, 1000, 1}, {2, 40, 900}};

TYPED_TEST(SoftmaxKernelTest, LogSoftmaxMatchesNaive) {
  using T = TypeParam;
  for (const Shape& s : kShapes) {
    const auto x = random_values<T>(s.outer * s.dim * s.inner, 1, -20.0, 20.0);
    const auto dy = random_values<T>(x.size(), 2);
    std::vector<T> y(x.size()), dx(x.size());
    cpu::log_softmax_forward(x.data(), s.outer, s.dim, s.inner, y.data());
    cpu::log_softmax_backward(dy.data(), y.data(), s.outer, s.dim, s.inner, dx.data());
    const std::vector<double> ny = naive_log_softmax(x, s.outer, s.dim, s.inner);
    // dx from the exact forward output, so only the kernel's own rounding is measured.
    std::vector<double> ndx(x.size());
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t i = 0; i < s.inner; ++i) {
        double sum = 0;
        for (int64_t d = 0; d < s.dim; ++d) sum += dy[(o * s.dim + d) * s.inner + i];
        for (int64_t d = 0; d < s.dim; ++d) {
          const int64_t k = (o * s.dim + d) * s.inner + i;
          ndx[k] = dy[k] - std::exp(double(y[k])) * sum;
        }
      }
    const std::string what = std::to_string(s.outer) + "x" + std::to_string(s.dim) + "x" + std::to_string(s.inner);
    expect_close(y, ny, 4 * tolerance<T>(), what + " y");
    expect_close(dx, ndx, 4 * tolerance<T>(), what + " dx");
  }
}

TYPED_TEST(SoftmaxKernelTest, LogSoftmaxIsShiftInvariantForLargeLogits) {
  using T = TypeParam;
  const std::vector<T> x = {T(1000), T(1001), T(1002)};
  std::vector<T> y(3);
  cpu::log_softmax_forward(x.data(), 1, 3, 1, y.data());
  expect_close(y, std::vector<double>{-2.4076059644443806, -1.4076059644443806, -0.4076059644443806},
               tolerance<T>());
}

TYPED_TEST(SoftmaxKernelTest, ThreadCountDoesNotChangeResults) {
  using T = TypeParam;
  for (const Shape& s : {Shape{64, 1000, 1}, Shape{2, 40, 900}}) {
    const auto x = random_values<T>(s.outer * s.dim * s.inner, 3, -5.0, 5.0);
    const auto dy = random_values<T>(x.size(), 4);
    std::vector<T> results[2];
    for (int threads : {1, 2}) {
      ThreadCount scope(threads);
      std::vector<T> y(x.size()), dx(x.size());
      cpu::log_softmax_forward(x.data(), s.outer, s.dim, s.inner, y.data());
      cpu::log_softmax_backward(dy.data(), y.data(), s.outer, s.dim, s.inner, dx.data());
      results[threads - 1] = y;
      results[threads - 1].insert(results[threads - 1].end(), dx.begin(), dx.end());
    }
    EXPECT_TRUE(bit_identical(results[0], results[1]));
  }
}

// ---- cross entropy ----------------------------------------------------------------------------

// torch 1.13: F.cross_entropy(logits, [1, 2, 4, 0], ignore_index=2, label_smoothing=0.1,
// reduction='none') with logits = 3 sin(0.8 i + 0.3) shaped [4, 5], backward of
// dloss = [0.5, 1, -2, 1.5].
TYPED_TEST(SoftmaxKernelTest, CrossEntropyLabelSmoothingIgnoreIndexMatchesTorch) {
  using T = TypeParam;
  const auto logits = testing::wave<T>(20, 0.8, 0.3, 3.0);
  const std::vector<int64_t> target = {1, 2, 4, 0};
  const std::vector<T> dloss = {T(0.5), T(1), T(-2), T(1.5)};
  std::vector<T> log_probs(20), loss(4), dlogits(20, T(-7));
  const int64_t counted = cpu::cross_entropy_forward(logits.data(), target.data(), 4, 5, 2, 0.1,
                                                     log_probs.data(), loss.data());
  cpu::cross_entropy_backward(log_probs.data(), target.data(), 4, 5, 2, 0.1, dloss.data(), dlogits.data());
  EXPECT_EQ(counted, 3);
  const double tol = 1e-9 + 4 * tolerance<T>();
  expect_close(loss, std::vector<double>{1.097947151, 0, 5.316199027, 4.212761275}, tol, "loss");
  // torch's reduction='mean' divides the sum by the number of samples not ignored.
  EXPECT_NEAR((double(loss[0]) + loss[2] + loss[3]) / counted, 3.5423024844, 1e-5);
  expect_close(dlogits, std::vector<double>{0.02195677589, -0.2691580313, 0.2151403261, 0.03746360739,
                                            -0.005402678123, 0, 0, 0, 0, 0, -1.627433636, -0.2499824965,
                                            0.01178319292, 0.03368694047, 1.831945999, -1.362090873,
                                            0.1514518362, 0.6985296786, 0.4688205209, 0.04328883704},
               tol, "dlogits");
}

TYPED_TEST(SoftmaxKernelTest, CrossEntropyMatchesNaive) {
  using T = TypeParam;
  const int64_t n = 37, c = 11;
  const auto logits = random_values<T>(n * c, 5, -4.0, 4.0);
  std::vector<int64_t> target(n);
  for (int64_t i = 0; i < n; ++i) target[i] = i % 7 == 3 ? -100 : (i * 5) % c;
  const auto dloss = random_values<T>(n, 6);
  const std::vector<double> lp = naive_log_softmax(logits, n, c, 1);
  for (double s : {0.0, 0.25}) {
    std::vector<T> log_probs(n * c), loss(n), dlogits(n * c);
    const int64_t counted = cpu::cross_entropy_forward(logits.data(), target.data(), n, c, -100, s,
                                                       log_probs.data(), loss.data());
    cpu::cross_entropy_backward(log_probs.data(), target.data(), n, c, -100, s, dloss.data(), dlogits.data());
    std::vector<double> nloss(n, 0.0), ndlogits(n * c, 0.0);
    int64_t ncounted = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (target[i] == -100) continue;
      ++ncounted;
      double sum = 0;
      for (int64_t j = 0; j < c; ++j) sum += lp[i * c + j];
      nloss[i] = (1 - s) * -lp[i * c + target[i]] + s / c * -sum;
      for (int64_t j = 0; j < c; ++j)
        ndlogits[i * c + j] = dloss[i] * (std::exp(lp[i * c + j]) - (1 - s) * (j == target[i]) - s / c);
    }
    EXPECT_EQ(counted, ncounted);
    expect_close(log_probs, lp, 4 * tolerance<T>(), "log_probs");
    expect_close(loss, nloss, 4 * tolerance<T>(), "loss");
    expect_close(dlogits, ndlogits, 4 * tolerance<T>(), "dlogits");
  }
}

}  // namespace
}  // namespace graft::kernels
