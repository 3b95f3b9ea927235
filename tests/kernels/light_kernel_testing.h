#pragma once
// Helpers shared by the tests of the light CPU kernels (elementwise, reduce, softmax, batch norm,
// pooling): typed over float and double, thread-count control, inputs and comparisons.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/parallel.h"

namespace graft::kernels::testing {

using FloatTypes = ::testing::Types<float, double>;

// Sets the kernel thread count for one scope.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(cpu::num_threads()) { cpu::set_num_threads(n); }
  ~ThreadCount() { cpu::set_num_threads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

// Seeded uniform values in [lo, hi).
template <typename T>
std::vector<T> random_values(int64_t n, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = T(dist(rng));
  return v;
}

// scale * sin(a * i + b): the inputs the PyTorch reference numbers were computed from.
template <typename T>
std::vector<T> wave(int64_t n, double a, double b, double scale = 1.0) {
  std::vector<T> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = T(scale * std::sin(a * i + b));
  return v;
}

// Relative tolerance for results computed in T against a double reference.
template <typename T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-12;
}

// Every actual[i] within tol * max(1, |expected[i]|) of expected[i]; NaN must match NaN.
template <typename T, typename U>
void expect_close(const std::vector<T>& actual, const std::vector<U>& expected, double tol,
                  const std::string& what = "") {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < actual.size() && reported < 10; ++i) {
    const double a = actual[i], e = expected[i];
    const bool ok = std::isnan(e) ? std::isnan(a) : std::abs(a - e) <= tol * std::max(1.0, std::abs(e));
    if (!ok) {
      ADD_FAILURE() << what << " [" << i << "]: got " << a << ", expected " << e;
      ++reported;
    }
  }
}

// Same size and the same bytes (memcmp is not called on the null data of empty vectors).
template <typename T>
bool bit_identical(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// One operand of a broadcast: its data, and the strides it is addressed with over the output
// shape (0 on broadcast dims, else row-major or custom).
template <typename T>
struct Operand {
  std::vector<int64_t> strides;
  std::vector<T> data;
};

// Row-major data of own_shape addressed over the output shape (stride 0 where own_shape is 1),
// with values away from 0 so that division is well conditioned, every other one negative.
template <typename T>
Operand<T> contiguous_operand(const std::vector<int64_t>& own_shape, uint32_t seed) {
  Operand<T> op;
  op.strides.assign(own_shape.size(), 0);
  int64_t stride = 1;
  for (int d = int(own_shape.size()) - 1; d >= 0; --d) {
    op.strides[d] = own_shape[d] == 1 ? 0 : stride;
    stride *= own_shape[d];
  }
  op.data = random_values<T>(stride, seed, 0.5, 2.0);
  for (int64_t i = 0; i < stride; i += 2) op.data[i] = -op.data[i];
  return op;
}

}  // namespace graft::kernels::testing
