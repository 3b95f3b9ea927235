#include "kernels/reduce.h"

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

// Plain triple loop, summed in double.
template <typename T>
std::vector<double> naive_sum(const std::vector<T>& x, int64_t outer, int64_t reduce, int64_t inner) {
  std::vector<double> out(outer * inner, 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t r = 0; r < reduce; ++r)
      for (int64_t i = 0; i < inner; ++i) out[o * inner + i] += x[(o * reduce + r) * inner + i];
  return out;
}

template <typename T>
std::vector<T> run_sum(const std::vector<T>& x, int64_t outer, int64_t reduce, int64_t inner, int threads) {
  ThreadCount scope(threads);
  std::vector<T> out(outer * inner, T(-7));
  cpu::sum_reduce(x.data(), outer, reduce, inner, out.data());
  return out;
}

// Matches the naive sum, and is bit-identical at 1 and 2 threads.
template <typename T>
void check_sum(int64_t outer, int64_t reduce, int64_t inner) {
  const auto x = random_values<T>(outer * reduce * inner, 11);
  const auto one = run_sum(x, outer, reduce, inner, 1);
  const auto two = run_sum(x, outer, reduce, inner, 2);
  // Sums of random signs cancel; compare relative to the magnitude of the terms summed.
  const double tol = tolerance<T>() * (reduce > 1000 ? 10 : 1);
  expect_close(one, naive_sum(x, outer, reduce, inner), tol,
               "[" + std::to_string(outer) + ", " + std::to_string(reduce) + ", " + std::to_string(inner) + "]");
  EXPECT_TRUE(bit_identical(one, two)) << outer << " " << reduce << " " << inner;
}

template <typename T>
class ReduceKernelTest : public ::testing::Test {};
TYPED_TEST_SUITE(ReduceKernelTest, testing::FloatTypes);

TYPED_TEST(ReduceKernelTest, ContiguousRuns) {
  check_sum<TypeParam>(1, 1, 1);
  check_sum<TypeParam>(7, 13, 1);
  check_sum<TypeParam>(512, 49, 1);   // global pooling of [N*C, 7*7]
  check_sum<TypeParam>(3, 50001, 1);  // runs of several blocks
}

TYPED_TEST(ReduceKernelTest, OneLongRunSplitsBlocksAcrossThreads) {
  check_sum<TypeParam>(1, 100003, 1);
  check_sum<TypeParam>(1, 8192 * 3, 1);  // an exact multiple of the block
}

TYPED_TEST(ReduceKernelTest, StridedAxis) {
  check_sum<TypeParam>(1, 5, 3);
  check_sum<TypeParam>(2, 7, 2500);     // more than one tile of columns
  check_sum<TypeParam>(1, 32, 1000);    // bias gradient of [N, C]
  check_sum<TypeParam>(4, 16, 3136);    // [N, C, H*W] summed over C
  check_sum<TypeParam>(3, 1, 17);       // reduce of 1 is a copy
}

TYPED_TEST(ReduceKernelTest, EmptyReduceGivesZeros) {
  using T = TypeParam;
  std::vector<T> out(6, T(-7));
  cpu::sum_reduce<T>(nullptr, 2, 0, 3, out.data());
  EXPECT_EQ(out, std::vector<T>(6, T(0)));
}

TEST(ReduceKernelTest, FloatSumsAccumulateInDouble) {
  // After 2^25 the float spacing is 4: a float accumulator would drop every one added to it.
  const int64_t n = 100000;
  std::vector<float> x(n, 1.0f);
  x[0] = 33554432.0f;
  float out = 0;
  cpu::sum_reduce(x.data(), 1, n, 1, &out);
  EXPECT_EQ(out, float(33554432.0 + (n - 1)));
}

}  // namespace
}  // namespace graft::kernels
