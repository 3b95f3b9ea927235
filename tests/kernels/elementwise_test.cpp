#include "kernels/elementwise.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/light_kernel_testing.h"

namespace graft::kernels {
namespace {

using cpu::BinaryOp;
using testing::bit_identical;
using testing::contiguous_operand;
using testing::Operand;
using testing::random_values;
using testing::ThreadCount;

template <typename T>
T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return T(0);
}

// Walks every output index with a plain multi-index odometer.
template <typename T>
std::vector<T> naive_broadcast(BinaryOp op, const std::vector<int64_t>& shape, const Operand<T>& a,
                               const Operand<T>& b) {
  int64_t total = 1;
  for (int64_t s : shape) total *= s;
  std::vector<T> out(total);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t rest = i, oa = 0, ob = 0;
    for (int d = int(shape.size()) - 1; d >= 0; --d) {
      const int64_t k = rest % shape[d];
      rest /= shape[d];
      oa += k * a.strides[d];
      ob += k * b.strides[d];
    }
    out[i] = apply(op, a.data[oa], b.data[ob]);
  }
  return out;
}

template <typename T>
std::vector<T> run_broadcast(BinaryOp op, const std::vector<int64_t>& shape, const Operand<T>& a,
                             const Operand<T>& b) {
  int64_t total = 1;
  for (int64_t s : shape) total *= s;
  std::vector<T> out(total, T(-7));
  cpu::binary_broadcast(op, int(shape.size()), shape.data(), a.data.data(), a.strides.data(),
                        b.data.data(), b.strides.data(), out.data());
  return out;
}

// Checks all four ops on `shape` with operands of shapes a_shape and b_shape (same rank, 1 on
// broadcast dims) against the naive walk, bit for bit, at 1 and 2 threads.
template <typename T>
void check_broadcast(const std::vector<int64_t>& shape, const std::vector<int64_t>& a_shape,
                     const std::vector<int64_t>& b_shape) {
  const auto a = contiguous_operand<T>(a_shape, 1);
  const auto b = contiguous_operand<T>(b_shape, 2);
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
    const std::vector<T> expected = naive_broadcast(op, shape, a, b);
    for (int threads : {1, 2}) {
      ThreadCount scope(threads);
      EXPECT_TRUE(bit_identical(run_broadcast(op, shape, a, b), expected))
          << "op " << int(op) << ", threads " << threads;
    }
  }
}

template <typename T>
class ElementwiseKernelTest : public ::testing::Test {};
TYPED_TEST_SUITE(ElementwiseKernelTest, testing::FloatTypes);

TYPED_TEST(ElementwiseKernelTest, SameShape) {
  check_broadcast<TypeParam>({3, 5, 7}, {3, 5, 7}, {3, 5, 7});
  check_broadcast<TypeParam>({1}, {1}, {1});
  check_broadcast<TypeParam>({100003}, {100003}, {100003});  // several thread chunks
}

TYPED_TEST(ElementwiseKernelTest, Scalar) {
  check_broadcast<TypeParam>({4, 3, 5}, {4, 3, 5}, {1, 1, 1});
  check_broadcast<TypeParam>({4, 3, 5}, {1, 1, 1}, {4, 3, 5});
  check_broadcast<TypeParam>({2, 50001}, {2, 50001}, {1, 1});
}

TYPED_TEST(ElementwiseKernelTest, PerChannel) {
  check_broadcast<TypeParam>({2, 3, 5, 7}, {2, 3, 5, 7}, {1, 3, 1, 1});
  check_broadcast<TypeParam>({2, 3, 5, 7}, {1, 3, 1, 1}, {2, 3, 5, 7});
  check_broadcast<TypeParam>({6, 10}, {6, 10}, {1, 10});  // bias over [N, C]
  check_broadcast<TypeParam>({4, 64, 31, 33}, {4, 64, 31, 33}, {1, 64, 1, 1});  // chunks split rows
}

TYPED_TEST(ElementwiseKernelTest, BroadcastOnEveryDim) {
  for (int d = 0; d < 4; ++d) {
    std::vector<int64_t> shape = {2, 3, 4, 5}, partial = shape;
    partial[d] = 1;
    check_broadcast<TypeParam>(shape, shape, partial);
    check_broadcast<TypeParam>(shape, partial, shape);
  }
  check_broadcast<TypeParam>({2, 4, 3, 6, 5}, {2, 1, 3, 1, 5}, {1, 4, 1, 6, 1});  // both broadcast
  check_broadcast<TypeParam>({3, 1, 4}, {3, 1, 1}, {1, 1, 4});                    // outer product
  check_broadcast<TypeParam>({2, 3, 2, 3, 2, 3, 2, 3}, {2, 1, 2, 1, 2, 1, 2, 1},
                             {1, 3, 1, 3, 1, 3, 1, 3});  // kMaxDims
  check_broadcast<TypeParam>({257, 3, 129}, {257, 1, 129}, {1, 3, 1});
}

TYPED_TEST(ElementwiseKernelTest, StridedOperand) {
  using T = TypeParam;
  // a is the transpose of a contiguous [5, 4] buffer, viewed as [4, 5]; b is contiguous.
  const std::vector<int64_t> shape = {4, 5};
  Operand<T> a{{1, 4}, random_values<T>(20, 3)};
  const auto b = contiguous_operand<T>({4, 5}, 4);
  for (BinaryOp op : {BinaryOp::add, BinaryOp::div}) {
    EXPECT_TRUE(bit_identical(run_broadcast(op, shape, a, b), naive_broadcast(op, shape, a, b)));
    EXPECT_TRUE(bit_identical(run_broadcast(op, shape, b, a), naive_broadcast(op, shape, b, a)));
  }
}

TYPED_TEST(ElementwiseKernelTest, EmptyShapeWritesNothing) {
  using T = TypeParam;
  const std::vector<int64_t> shape = {3, 0, 2}, strides = {2, 2, 1};
  const T a = 1, b = 2;
  T out = T(-7);
  cpu::binary_broadcast(BinaryOp::add, 3, shape.data(), &a, strides.data(), &b, strides.data(), &out);
  EXPECT_EQ(out, T(-7));
}

TYPED_TEST(ElementwiseKernelTest, Relu) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> x = {T(-1.5), T(0), T(-0.0), T(2.5), nan, -std::numeric_limits<T>::infinity()};
  std::vector<T> y(x.size());
  cpu::relu_forward(x.data(), int64_t(x.size()), y.data());
  EXPECT_EQ(y[0], T(0));
  EXPECT_EQ(y[1], T(0));
  EXPECT_EQ(y[2], T(0));
  EXPECT_TRUE(std::signbit(y[2])) << "torch keeps -0";
  EXPECT_EQ(y[3], T(2.5));
  EXPECT_TRUE(std::isnan(y[4]));
  EXPECT_EQ(y[5], T(0));

  const std::vector<T> dy = {T(1), T(2), T(3), T(4), T(5), T(6)};
  std::vector<T> dx(x.size());
  cpu::relu_backward(dy.data(), y.data(), int64_t(x.size()), dx.data());
  // PyTorch passes the gradient through where the output is NaN.
  EXPECT_EQ(dx, (std::vector<T>{T(0), T(0), T(0), T(4), T(5), T(0)}));
}

TYPED_TEST(ElementwiseKernelTest, ReluLargeMatchesNaive) {
  using T = TypeParam;
  const int64_t n = 200001;
  const auto x = random_values<T>(n, 5);
  const auto dy = random_values<T>(n, 6);
  std::vector<T> y(n), dx(n);
  cpu::relu_forward(x.data(), n, y.data());
  cpu::relu_backward(dy.data(), y.data(), n, dx.data());
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(y[i], x[i] > 0 ? x[i] : T(0)) << i;
    ASSERT_EQ(dx[i], x[i] > 0 ? dy[i] : T(0)) << i;
  }
}

TYPED_TEST(ElementwiseKernelTest, MaskedScale) {
  using T = TypeParam;
  const int64_t n = 70001;
  const auto x = random_values<T>(n, 7);
  std::vector<uint8_t> mask(n);
  for (int64_t i = 0; i < n; ++i) mask[i] = uint8_t(i % 3 != 0);
  std::vector<T> y(n);
  cpu::masked_scale(x.data(), mask.data(), T(1.25), n, y.data());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], x[i] * T(mask[i]) * T(1.25)) << i;
}

TYPED_TEST(ElementwiseKernelTest, AxpyAndFill) {
  using T = TypeParam;
  const int64_t n = 70001;
  const auto x = random_values<T>(n, 8);
  auto y = random_values<T>(n, 9);
  const auto y0 = y;
  cpu::axpy(n, T(-0.5), x.data(), y.data());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], T(-0.5) * x[i] + y0[i]) << i;
  cpu::fill(y.data(), n, T(3));
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], T(3)) << i;
}

}  // namespace
}  // namespace graft::kernels
