// The CUDA pooling kernels against their CPU twins. The GPU kernels visit the same window elements
// in the same order and their backward passes gather in the order the CPU twins scatter, so
// - max pooling: y, indices and dx are bit-identical (NaN windows and -inf windows included);
// - avg pooling: y (double sums in the same order) and dx are bit-identical (any NaN matching
//   any NaN);
// - adaptive avg pooling: dx is bit-identical; y within one rounding of T (the CPU twin's
//   vectorized row sums and the GPU's warp sums add in different orders): 2.4e-7 for float,
//   1e-15 for double, relative (at least 1 in magnitude).
// Output sizes come from the op's own rule (ops::pool2d_output_size), ceil_mode included.
#include "kernels/pool2d.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/ops/pool2d_common.h"
#include "gtest/gtest.h"
#include "tests/kernels/light_kernel_testing.h"
#include "tests/support/gpu.h"

namespace graft::kernels {
namespace {

using graft::testing::DeviceBuffer;
using testing::bit_identical;
using testing::expect_close;
using testing::random_values;

template <typename T>
constexpr double kAdaptiveTolerance = std::is_same_v<T, float> ? 2.4e-7 : 1e-15;

struct Window {
  int64_t planes, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  bool ceil_mode;
};

Pool2dGeometry geometry(const Window& w) {
  Pool2dGeometry g;
  g.planes = w.planes;
  g.in_h = w.in_h;
  g.in_w = w.in_w;
  g.kernel_h = w.kernel_h;
  g.kernel_w = w.kernel_w;
  g.stride_h = w.stride_h;
  g.stride_w = w.stride_w;
  g.pad_h = w.pad_h;
  g.pad_w = w.pad_w;
  g.dilation_h = w.dilation_h;
  g.dilation_w = w.dilation_w;
  g.out_h = ops::pool2d_output_size(w.in_h, w.kernel_h, w.stride_h, w.pad_h, w.dilation_h, w.ceil_mode);
  g.out_w = ops::pool2d_output_size(w.in_w, w.kernel_w, w.stride_w, w.pad_w, w.dilation_w, w.ceil_mode);
  return g;
}

std::string name(const Pool2dGeometry& g) {
  return std::to_string(g.planes) + "x" + std::to_string(g.in_h) + "x" + std::to_string(g.in_w) + " -> " +
         std::to_string(g.out_h) + "x" + std::to_string(g.out_w) + " kernel " + std::to_string(g.kernel_h) + "x" +
         std::to_string(g.kernel_w) + " stride " + std::to_string(g.stride_h) + "x" + std::to_string(g.stride_w) +
         " pad " + std::to_string(g.pad_h) + "x" + std::to_string(g.pad_w) + " dilation " +
         std::to_string(g.dilation_h) + "x" + std::to_string(g.dilation_w);
}

// Windows the op can produce: ResNet's stem pooling, ceil_mode with partial last windows,
// dilation, rectangular kernels and strides, a 1x1 input, and many planes.
const Window kMaxWindows[] = {
    {3, 13, 17, 3, 3, 2, 2, 1, 1, 1, 1, false}, {3, 13, 17, 3, 3, 2, 2, 1, 1, 1, 1, true},
    {2, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1, false},   {4, 7, 7, 3, 3, 1, 1, 1, 1, 2, 2, false},
    {2, 10, 9, 3, 2, 3, 2, 1, 1, 2, 1, true},   {2, 5, 11, 5, 3, 1, 2, 2, 1, 1, 3, true},
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false},   {70, 7, 7, 2, 2, 2, 2, 0, 0, 1, 1, true},
    {5000, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, false},
};

const Window kAvgWindows[] = {
    {3, 13, 17, 3, 3, 2, 2, 1, 1, 1, 1, false}, {3, 13, 17, 3, 3, 2, 2, 1, 1, 1, 1, true},
    {2, 7, 7, 2, 2, 2, 2, 0, 0, 1, 1, true},    {2, 6, 5, 3, 2, 2, 3, 1, 1, 1, 1, true},
    {3, 8, 8, 4, 4, 4, 4, 2, 2, 1, 1, false},   {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false},
    {5000, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, false},
};

// Padding wider than the kernel (allowed by the kernels, not by the op): the border windows hold
// nothing but padding.
const Window kAllPaddingWindow = {2, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, false};

// Values with NaNs (every 7th element) and one plane of -inf.
template <typename T>
std::vector<T> with_nan_and_negative_infinity(std::vector<T> x, int64_t plane_size) {
  for (size_t i = 0; i < x.size(); i += 7) x[i] = std::numeric_limits<T>::quiet_NaN();
  for (int64_t i = 0; i < plane_size && i < int64_t(x.size()); ++i) x[i] = -std::numeric_limits<T>::infinity();
  return x;
}

// Bit-identical, except that any NaN matches any NaN: 0/0 (the average of a window of padding
// alone, without count_include_pad) gives the host's NaN on the CPU and the GPU's on the GPU.
template <typename T>
bool same_values(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && !bit_identical(std::vector<T>{a[i]}, std::vector<T>{b[i]}))
      return false;
  return true;
}

template <typename T>
struct MaxResult {
  std::vector<T> y;
  std::vector<int64_t> indices;
};

template <typename T>
MaxResult<T> gpu_max_forward(const Pool2dGeometry& g, const std::vector<T>& x_host) {
  const int64_t outputs = g.planes * g.out_h * g.out_w;
  const DeviceBuffer<T> x(x_host);
  DeviceBuffer<T> y(std::vector<T>(outputs, T(-7)));
  DeviceBuffer<int64_t> indices(std::vector<int64_t>(outputs, -7));
  cuda::max_pool2d_forward(g, x.get(), y.get(), indices.get(), nullptr);
  return {y.download(), indices.download()};
}

template <typename T>
MaxResult<T> cpu_max_forward(const Pool2dGeometry& g, const std::vector<T>& x) {
  const int64_t outputs = g.planes * g.out_h * g.out_w;
  MaxResult<T> r{std::vector<T>(outputs), std::vector<int64_t>(outputs)};
  cpu::max_pool2d_forward(g, x.data(), r.y.data(), r.indices.data());
  return r;
}

template <typename T>
class CudaPool2d : public ::testing::Test {};
TYPED_TEST_SUITE(CudaPool2d, testing::FloatTypes);

TYPED_TEST(CudaPool2d, MaxForwardEqualsCpuTwinBitForBit) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  std::vector<Window> windows(std::begin(kMaxWindows), std::end(kMaxWindows));
  windows.push_back(kAllPaddingWindow);
  for (const Window& w : windows) {
    const Pool2dGeometry g = geometry(w);
    const auto x = random_values<T>(g.planes * g.in_h * g.in_w, 1);
    for (const auto& input : {x, with_nan_and_negative_infinity(x, g.in_h * g.in_w)}) {
      const MaxResult<T> gpu = gpu_max_forward(g, input), cpu = cpu_max_forward(g, input);
      EXPECT_TRUE(bit_identical(gpu.y, cpu.y)) << name(g);
      EXPECT_EQ(gpu.indices, cpu.indices) << name(g);
    }
  }
}

TYPED_TEST(CudaPool2d, MaxBackwardEqualsCpuTwinBitForBit) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Window& w : kMaxWindows) {
    const Pool2dGeometry g = geometry(w);
    const int64_t inputs = g.planes * g.in_h * g.in_w, outputs = g.planes * g.out_h * g.out_w;
    // Few distinct values, so that windows often tie and overlapping windows pick the same input.
    auto x = random_values<T>(inputs, 2);
    for (T& v : x) v = T(std::round(v * 2));
    const auto dy = random_values<T>(outputs, 3);
    const MaxResult<T> forward = cpu_max_forward(g, x);
    std::vector<T> expected(inputs);
    cpu::max_pool2d_backward(g, dy.data(), forward.indices.data(), expected.data());
    const DeviceBuffer<T> dy_gpu(dy);
    const DeviceBuffer<int64_t> indices(forward.indices);
    DeviceBuffer<T> dx(std::vector<T>(inputs, T(-7)));
    cuda::max_pool2d_backward(g, dy_gpu.get(), indices.get(), dx.get(), nullptr);
    const std::vector<T> first = dx.download();
    EXPECT_TRUE(bit_identical(first, expected)) << name(g);
    cuda::max_pool2d_backward(g, dy_gpu.get(), indices.get(), dx.get(), nullptr);
    EXPECT_TRUE(bit_identical(dx.download(), first)) << name(g) << ": a second run differs";
  }
}

TYPED_TEST(CudaPool2d, AvgForwardAndBackwardEqualCpuTwinBitForBit) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  std::vector<Window> windows(std::begin(kAvgWindows), std::end(kAvgWindows));
  windows.push_back(kAllPaddingWindow);
  for (const Window& w : windows)
    for (bool count_include_pad : {true, false}) {
      const Pool2dGeometry g = geometry(w);
      const std::string what = name(g) + (count_include_pad ? " count_include_pad" : "");
      const int64_t inputs = g.planes * g.in_h * g.in_w, outputs = g.planes * g.out_h * g.out_w;
      const auto x = random_values<T>(inputs, 4), dy = random_values<T>(outputs, 5);
      std::vector<T> y_expected(outputs), dx_expected(inputs);
      cpu::avg_pool2d_forward(g, count_include_pad, x.data(), y_expected.data());
      cpu::avg_pool2d_backward(g, count_include_pad, dy.data(), dx_expected.data());
      const DeviceBuffer<T> x_gpu(x), dy_gpu(dy);
      DeviceBuffer<T> y(std::vector<T>(outputs, T(-7))), dx(std::vector<T>(inputs, T(-7)));
      cuda::avg_pool2d_forward(g, count_include_pad, x_gpu.get(), y.get(), nullptr);
      cuda::avg_pool2d_backward(g, count_include_pad, dy_gpu.get(), dx.get(), nullptr);
      EXPECT_TRUE(same_values(y.download(), y_expected)) << what;
      EXPECT_TRUE(same_values(dx.download(), dx_expected)) << what;
    }
}

struct Adaptive {
  int64_t planes, in_h, in_w, out_h, out_w;
};

// Non-divisible sizes (7 -> 3, 5 -> 2, overlapping windows), global pooling (one warp per output),
// more outputs than inputs, identity, and many planes.
const Adaptive kAdaptive[] = {
    {3, 7, 7, 3, 3},   {3, 5, 5, 2, 2},  {4, 7, 7, 1, 1},  {2, 13, 17, 4, 5}, {2, 3, 5, 7, 6},
    {2, 56, 56, 3, 3}, {2, 6, 6, 6, 6},  {3, 10, 1, 3, 1}, {5000, 7, 7, 1, 1}, {3, 7, 5, 5, 2},
};

TYPED_TEST(CudaPool2d, AdaptiveAvgMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Adaptive& a : kAdaptive) {
    const std::string what = std::to_string(a.planes) + "x" + std::to_string(a.in_h) + "x" + std::to_string(a.in_w) +
                             " -> " + std::to_string(a.out_h) + "x" + std::to_string(a.out_w);
    const int64_t inputs = a.planes * a.in_h * a.in_w, outputs = a.planes * a.out_h * a.out_w;
    const auto x = random_values<T>(inputs, 6), dy = random_values<T>(outputs, 7);
    std::vector<T> y_expected(outputs), dx_expected(inputs);
    cpu::adaptive_avg_pool2d_forward(a.planes, a.in_h, a.in_w, a.out_h, a.out_w, x.data(), y_expected.data());
    cpu::adaptive_avg_pool2d_backward(a.planes, a.in_h, a.in_w, a.out_h, a.out_w, dy.data(), dx_expected.data());
    const DeviceBuffer<T> x_gpu(x), dy_gpu(dy);
    DeviceBuffer<T> y(std::vector<T>(outputs, T(-7))), dx(std::vector<T>(inputs, T(-7)));
    cuda::adaptive_avg_pool2d_forward(a.planes, a.in_h, a.in_w, a.out_h, a.out_w, x_gpu.get(), y.get(), nullptr);
    cuda::adaptive_avg_pool2d_backward(a.planes, a.in_h, a.in_w, a.out_h, a.out_w, dy_gpu.get(), dx.get(), nullptr);
    const std::vector<T> y_first = y.download();
    expect_close(y_first, y_expected, kAdaptiveTolerance<T>, what + " y");
    EXPECT_TRUE(bit_identical(dx.download(), dx_expected)) << what << " dx";
    cuda::adaptive_avg_pool2d_forward(a.planes, a.in_h, a.in_w, a.out_h, a.out_w, x_gpu.get(), y.get(), nullptr);
    EXPECT_TRUE(bit_identical(y.download(), y_first)) << what << ": a second run differs";
  }
}

TYPED_TEST(CudaPool2d, RejectsBadArgumentsAndSkipsEmptyWork) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  const Pool2dGeometry good = geometry({2, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, false});
  DeviceBuffer<T> buf(std::vector<T>(32, T(1)));
  DeviceBuffer<int64_t> idx(std::vector<int64_t>(8, 0));
  T* p = buf.get();
  for (auto change : {+[](Pool2dGeometry& g) { g.planes = -1; }, +[](Pool2dGeometry& g) { g.kernel_w = 0; },
                      +[](Pool2dGeometry& g) { g.stride_h = 0; }, +[](Pool2dGeometry& g) { g.dilation_w = 0; },
                      +[](Pool2dGeometry& g) { g.pad_h = -1; }}) {
    Pool2dGeometry bad = good;
    change(bad);
    EXPECT_THROW(cuda::max_pool2d_forward<T>(bad, p, p, idx.get(), nullptr), std::invalid_argument);
    EXPECT_THROW(cuda::max_pool2d_backward<T>(bad, p, idx.get(), p, nullptr), std::invalid_argument);
  }
  EXPECT_THROW(cuda::max_pool2d_forward<T>(good, p, p, nullptr, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::max_pool2d_forward<T>(good, nullptr, p, idx.get(), nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::max_pool2d_backward<T>(good, p, nullptr, p, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::avg_pool2d_forward<T>(good, true, p, nullptr, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::avg_pool2d_backward<T>(good, true, nullptr, p, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::adaptive_avg_pool2d_forward<T>(2, 4, -4, 1, 1, p, p, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::adaptive_avg_pool2d_backward<T>(2, 4, 4, 1, 1, p, nullptr, nullptr), std::invalid_argument);
  EXPECT_EQ(buf.download(), std::vector<T>(32, T(1)));  // nothing ran
  Pool2dGeometry empty = good;
  empty.planes = 0;
  EXPECT_NO_THROW(cuda::max_pool2d_forward<T>(empty, nullptr, nullptr, nullptr, nullptr));
  EXPECT_NO_THROW(cuda::avg_pool2d_backward<T>(empty, false, nullptr, nullptr, nullptr));
  EXPECT_NO_THROW(cuda::adaptive_avg_pool2d_forward<T>(0, 7, 7, 1, 1, nullptr, nullptr, nullptr));
}

}  // namespace
}  // namespace graft::kernels
