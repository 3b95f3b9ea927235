// The CUDA elementwise kernels against their CPU twins, bit for bit: every operation rounds once
// on both sides (axpy is compared with std::fma, which the GPU kernel computes). Sizes cover the
// vectorized path (16-byte aligned pointers), its scalar tail, the unaligned fallback (pointers
// offset by one element) and the broadcast walk.
#include "kernels/elementwise.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/cuda/cuda_kernel_testing.h"
#include "tests/kernels/light_kernel_testing.h"
#include "tests/support/gpu.h"

namespace graft::kernels {
namespace {

using cpu::BinaryOp;
using graft::testing::DeviceBuffer;
using testing::OffsetBuffer;
using testing::random_values;
using testing::bit_identical;
using testing::contiguous_operand;
using testing::Operand;

const int64_t kSizes[] = {0, 1, 3, 31, 32, 33, 1025, (int64_t{1} << 22) + 3};

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

// All four ops on the GPU and the CPU twin, with each operand and the output offset by the given
// number of elements.
template <typename T>
void check_broadcast(const std::vector<int64_t>& shape, const Operand<T>& a, const Operand<T>& b, int64_t a_offset = 0,
                     int64_t b_offset = 0, int64_t out_offset = 0) {
  const int64_t n = element_count(shape);
  const int ndim = int(shape.size());
  const OffsetBuffer<T> da(a.data, a_offset), db(b.data, b_offset);
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
    std::vector<T> expected(n);
    cpu::binary_broadcast(op, ndim, shape.data(), a.data.data(), a.strides.data(), b.data.data(), b.strides.data(),
                          expected.data());
    OffsetBuffer<T> out(std::vector<T>(n, T(-7)), out_offset);
    cuda::binary_broadcast(op, ndim, shape.data(), da.get(), a.strides.data(), db.get(), b.strides.data(), out.get(),
                           nullptr);
    EXPECT_TRUE(bit_identical(out.download(), expected))
        << "op " << int(op) << ", ndim " << ndim << ", " << n << " elements, offsets " << a_offset << "/" << b_offset
        << "/" << out_offset;
  }
}

template <typename T>
void check_broadcast(const std::vector<int64_t>& shape, const std::vector<int64_t>& a_shape,
                     const std::vector<int64_t>& b_shape) {
  check_broadcast<T>(shape, contiguous_operand<T>(a_shape, 1), contiguous_operand<T>(b_shape, 2));
}

template <typename T>
class CudaElementwise : public ::testing::Test {};
TYPED_TEST_SUITE(CudaElementwise, testing::FloatTypes);

TYPED_TEST(CudaElementwise, SameShapeMatchesCpuTwinAlignedAndNot) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (int64_t n : kSizes) {
    if (n == 0) continue;
    const auto a = contiguous_operand<T>({n}, 3), b = contiguous_operand<T>({n}, 4);
    check_broadcast<T>({n}, a, b);
    check_broadcast<T>({n}, a, b, 1, 0, 0);  // a unaligned: one element at a time
    check_broadcast<T>({n}, a, b, 0, 0, 1);  // out unaligned
  }
  check_broadcast<T>({3, 5, 7}, {3, 5, 7}, {3, 5, 7});  // coalesces to one dim
  check_broadcast<T>({1, 7, 1, 9}, {1, 7, 1, 9}, {1, 7, 1, 9});
}

TYPED_TEST(CudaElementwise, ScalarOperandMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  check_broadcast<T>({4, 3, 5}, {4, 3, 5}, {1, 1, 1});
  check_broadcast<T>({4, 3, 5}, {1, 1, 1}, {4, 3, 5});
  check_broadcast<T>({2, 50001}, {2, 50001}, {1, 1});
  check_broadcast<T>({1 << 20}, {1 << 20}, {1});
  const auto a = contiguous_operand<T>({1025}, 5), s = contiguous_operand<T>({1}, 6);
  check_broadcast<T>({1025}, a, s, 1, 1, 0);  // a scalar at an odd address, a unaligned
  check_broadcast<T>({1025}, s, a, 0, 0, 3);
  check_broadcast<T>({}, s, s);                         // ndim 0: one element
  check_broadcast<T>({1, 1, 1}, {1, 1, 1}, {1, 1, 1});  // every dim of size 1
}

TYPED_TEST(CudaElementwise, BroadcastPatternsMatchCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  check_broadcast<T>({2, 3, 5, 7}, {2, 3, 5, 7}, {1, 3, 1, 1});  // per channel
  check_broadcast<T>({2, 3, 5, 7}, {1, 3, 1, 1}, {2, 3, 5, 7});
  check_broadcast<T>({6, 10}, {6, 10}, {1, 10});                // bias over [N, C]
  check_broadcast<T>({257, 3, 129}, {257, 1, 129}, {1, 3, 1});  // middle dim broadcast
  check_broadcast<T>({31, 33, 32}, {31, 1, 32}, {31, 33, 32});
  check_broadcast<T>({3, 1, 4}, {3, 1, 1}, {1, 1, 4});  // outer product
  check_broadcast<T>({2, 4, 3, 6, 5}, {2, 1, 3, 1, 5}, {1, 4, 1, 6, 1});
  check_broadcast<T>({2, 3, 2, 3, 2, 3, 2, 3}, {2, 1, 2, 1, 2, 1, 2, 1}, {1, 3, 1, 3, 1, 3, 1, 3});  // kMaxDims
  for (int d = 0; d < 4; ++d) {
    std::vector<int64_t> shape = {2, 3, 4, 5}, partial = shape;
    partial[d] = 1;
    check_broadcast<T>(shape, shape, partial);
    check_broadcast<T>(shape, partial, shape);
  }
  check_broadcast<T>({64, 33, 2049}, {64, 33, 2049}, {1, 33, 1});  // 4.3M elements through the walk
}

TYPED_TEST(CudaElementwise, StridedOperandMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  // a is the transpose of a contiguous [33, 17] buffer, viewed as [17, 33]; b is contiguous.
  const Operand<T> a{{1, 17}, random_values<T>(33 * 17, 7, 0.5, 2.0)};
  const auto b = contiguous_operand<T>({17, 33}, 8);
  check_broadcast<T>({17, 33}, a, b);
  check_broadcast<T>({17, 33}, b, a);
  // Every other element of a 1-d buffer.
  const Operand<T> even{{2}, random_values<T>(2 * 1001, 9, 0.5, 2.0)};
  check_broadcast<T>({1001}, even, contiguous_operand<T>({1001}, 10));
}

TYPED_TEST(CudaElementwise, EmptyShapeWritesNothingAndBadRankThrows) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  const std::vector<int64_t> shape = {3, 0, 2}, strides = {2, 2, 1};
  DeviceBuffer<T> a(std::vector<T>{T(1)}), out(std::vector<T>{T(-7)});
  cuda::binary_broadcast(BinaryOp::add, 3, shape.data(), a.get(), strides.data(), a.get(), strides.data(), out.get(),
                         nullptr);
  EXPECT_EQ(out.download(), std::vector<T>{T(-7)});
  const std::vector<int64_t> nine(9, 1);
  EXPECT_THROW(cuda::binary_broadcast(BinaryOp::add, 9, nine.data(), a.get(), nine.data(), a.get(), nine.data(),
                                      out.get(), nullptr),
               std::invalid_argument);
}

// Random values with the special cases mixed in: NaN, -0, +-inf.
template <typename T>
std::vector<T> values_with_specials(int64_t n, uint32_t seed) {
  std::vector<T> v = random_values<T>(n, seed);
  const T specials[] = {std::numeric_limits<T>::quiet_NaN(), T(-0.0), T(0), std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity()};
  for (int64_t i = 0; i < n; i += 7) v[i] = specials[(i / 7) % 5];
  return v;
}

TYPED_TEST(CudaElementwise, ReluForwardAndBackwardMatchCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (int64_t n : kSizes) {
    for (int64_t offset : {0, 1}) {
      const auto x = values_with_specials<T>(n, 11);
      const auto dy = random_values<T>(n, 12);
      std::vector<T> y(n), dx(n);
      cpu::relu_forward(x.data(), n, y.data());
      cpu::relu_backward(dy.data(), y.data(), n, dx.data());
      // The backward pass reads the CPU twin's y, so each kernel is checked on its own.
      const OffsetBuffer<T> x_gpu(x, offset), dy_gpu(dy, 0), y_in_gpu(y, offset);
      OffsetBuffer<T> y_gpu(std::vector<T>(n, T(-7)), offset), dx_gpu(std::vector<T>(n, T(-7)), 0);
      cuda::relu_forward(x_gpu.get(), n, y_gpu.get(), nullptr);
      cuda::relu_backward(dy_gpu.get(), y_in_gpu.get(), n, dx_gpu.get(), nullptr);
      EXPECT_TRUE(bit_identical(y_gpu.download(), y)) << "relu_forward, n " << n << ", offset " << offset;
      EXPECT_TRUE(bit_identical(dx_gpu.download(), dx)) << "relu_backward, n " << n << ", offset " << offset;
    }
  }
}

TYPED_TEST(CudaElementwise, MaskedScaleMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  const T scale = T(1) / T(0.7);  // dropout with p = 0.3
  for (int64_t n : kSizes) {
    for (int64_t mask_offset : {0, 1}) {
      const auto x = random_values<T>(n, 13);
      std::vector<uint8_t> mask(n);
      for (int64_t i = 0; i < n; ++i) mask[i] = uint8_t((i * 2654435761u >> 7) % 10 < 7);
      std::vector<T> expected(n);
      cpu::masked_scale(x.data(), mask.data(), scale, n, expected.data());
      const OffsetBuffer<T> x_gpu(x, 0);
      const OffsetBuffer<uint8_t> mask_gpu(mask, mask_offset);
      OffsetBuffer<T> y_gpu(std::vector<T>(n, T(-7)), 0);
      cuda::masked_scale(x_gpu.get(), mask_gpu.get(), scale, n, y_gpu.get(), nullptr);
      EXPECT_TRUE(bit_identical(y_gpu.download(), expected)) << "n " << n << ", mask offset " << mask_offset;
    }
  }
}

TYPED_TEST(CudaElementwise, AxpyIsOneFusedMultiplyAddAndFillFills) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  const T alpha = T(-0.37);
  for (int64_t n : kSizes) {
    for (int64_t offset : {0, 1}) {
      const auto x = random_values<T>(n, 14);
      const auto y0 = random_values<T>(n, 15);
      std::vector<T> fused(n), cpu_twin = y0;
      for (int64_t i = 0; i < n; ++i) fused[i] = std::fma(alpha, x[i], y0[i]);
      cpu::axpy(n, alpha, x.data(), cpu_twin.data());
      const OffsetBuffer<T> x_gpu(x, offset);
      OffsetBuffer<T> y_gpu(y0, offset);
      cuda::axpy(n, alpha, x_gpu.get(), y_gpu.get(), nullptr);
      const std::vector<T> y = y_gpu.download();
      EXPECT_TRUE(bit_identical(y, fused)) << "n " << n << ", offset " << offset;
      // The CPU twin fuses too when built for a CPU with FMA; otherwise it rounds twice.
      for (int64_t i = 0; i < n; ++i)
        ASSERT_LE(std::abs(double(y[i]) - double(cpu_twin[i])),
                  std::numeric_limits<T>::epsilon() * (std::abs(double(alpha * x[i])) + std::abs(double(y0[i]))))
            << i;

      cuda::fill(y_gpu.get(), n, T(3.5), nullptr);
      EXPECT_EQ(y_gpu.download(), std::vector<T>(n, T(3.5))) << "n " << n << ", offset " << offset;
    }
  }
}

}  // namespace
}  // namespace graft::kernels
