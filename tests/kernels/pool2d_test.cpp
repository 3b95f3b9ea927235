#include "kernels/pool2d.h"

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

// PyTorch's output size: floor or ceil of (in + 2 pad - dilation (k - 1) - 1) / stride + 1, where
// with ceil_mode the last window must start inside the input or the left padding.
int64_t pooled_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (k - 1) - 1;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Pool2dGeometry geometry(int64_t planes, int64_t in_h, int64_t in_w, int64_t kh, int64_t kw, int64_t sh,
                        int64_t sw, int64_t ph, int64_t pw, bool ceil_mode, int64_t dh = 1, int64_t dw = 1) {
  Pool2dGeometry g;
  g.planes = planes;
  g.in_h = in_h;
  g.in_w = in_w;
  g.kernel_h = kh;
  g.kernel_w = kw;
  g.stride_h = sh;
  g.stride_w = sw;
  g.pad_h = ph;
  g.pad_w = pw;
  g.dilation_h = dh;
  g.dilation_w = dw;
  g.out_h = pooled_size(in_h, kh, sh, ph, dh, ceil_mode);
  g.out_w = pooled_size(in_w, kw, sw, pw, dw, ceil_mode);
  return g;
}

// Test inputs that built the PyTorch reference numbers below.
template <typename T>
std::vector<T> quadratic_wave(int64_t n) {
  std::vector<T> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = T(std::sin(0.37 * double(i * i) + 0.4));
  return v;
}

// ---- max pooling ----------------------------------------------------------------------------

// Visits every tap of every window, skipping taps in the padding; the first maximum wins and any
// NaN takes over.
template <typename T>
void naive_max_pool(const Pool2dGeometry& g, const std::vector<T>& x, std::vector<T>& y,
                    std::vector<int64_t>& indices) {
  y.assign(g.planes * g.out_h * g.out_w, T(0));
  indices.assign(y.size(), -1);
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_index = -1;
        for (int64_t kh = 0; kh < g.kernel_h; ++kh)
          for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const int64_t h = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
            const int64_t w = ow * g.stride_w - g.pad_w + kw * g.dilation_w;
            if (h < 0 || h >= g.in_h || w < 0 || w >= g.in_w) continue;
            const T v = x[p * g.in_h * g.in_w + h * g.in_w + w];
            if (best_index < 0 || v > best || std::isnan(v)) {
              best = v;
              best_index = h * g.in_w + w;
            }
          }
        y[(p * g.out_h + oh) * g.out_w + ow] = best;
        indices[(p * g.out_h + oh) * g.out_w + ow] = best_index;
      }
}

template <typename T>
std::vector<T> naive_max_pool_backward(const Pool2dGeometry& g, const std::vector<T>& dy,
                                       const std::vector<int64_t>& indices) {
  std::vector<T> dx(g.planes * g.in_h * g.in_w, T(0));
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t o = 0; o < g.out_h * g.out_w; ++o)
      dx[p * g.in_h * g.in_w + indices[p * g.out_h * g.out_w + o]] += dy[p * g.out_h * g.out_w + o];
  return dx;
}

template <typename T>
class Pool2dKernelTest : public ::testing::Test {};
TYPED_TEST_SUITE(Pool2dKernelTest, testing::FloatTypes);

// A mix of the ResNet stem pool, odd sizes, ceil mode, dilation, 1x1 planes and batch 1.
std::vector<Pool2dGeometry> max_pool_cases() {
  return {geometry(6, 12, 12, 3, 3, 2, 2, 1, 1, false),     geometry(3, 7, 9, 3, 3, 2, 2, 1, 1, true),
          geometry(2, 5, 7, 2, 3, 1, 2, 1, 1, true, 2, 1),  geometry(4, 11, 10, 3, 2, 3, 2, 1, 0, true, 2, 3),
          geometry(5, 1, 1, 1, 1, 1, 1, 0, 0, false),      geometry(1, 1, 1, 3, 3, 2, 2, 1, 1, true),
          geometry(1, 8, 8, 2, 2, 2, 2, 0, 0, false),      geometry(2, 9, 4, 4, 1, 1, 1, 2, 0, false, 1, 1)};
}

TYPED_TEST(Pool2dKernelTest, MaxPoolMatchesNaive) {
  using T = TypeParam;
  for (const Pool2dGeometry& g : max_pool_cases()) {
    auto x = random_values<T>(g.planes * g.in_h * g.in_w, 1);
    for (T& v : x) v = std::round(v * 4) / 4;  // few distinct values: many ties, the first must win
    std::vector<T> y(g.planes * g.out_h * g.out_w);
    std::vector<int64_t> indices(y.size());
    cpu::max_pool2d_forward(g, x.data(), y.data(), indices.data());
    std::vector<T> ny;
    std::vector<int64_t> nindices;
    naive_max_pool(g, x, ny, nindices);
    EXPECT_EQ(y, ny);
    EXPECT_EQ(indices, nindices);

    const auto dy = random_values<T>(y.size(), 2);
    std::vector<T> dx(x.size(), T(-7));
    cpu::max_pool2d_backward(g, dy.data(), indices.data(), dx.data());
    EXPECT_EQ(dx, naive_max_pool_backward(g, dy, indices));
  }
}

// torch 1.13: F.max_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=(2, 1), ceil_mode=True,
// return_indices=True) with x = sin(0.37 i^2 + 0.4) shaped [1, 1, 5, 7].
TYPED_TEST(Pool2dKernelTest, MaxPoolDilatedCeilModeMatchesTorch) {
  using T = TypeParam;
  const Pool2dGeometry g = geometry(1, 5, 7, 2, 3, 1, 2, 1, 1, true, 2, 1);
  ASSERT_EQ(g.out_h, 5);
  ASSERT_EQ(g.out_w, 4);
  const auto x = quadratic_wave<T>(35);
  std::vector<T> y(20);
  std::vector<int64_t> indices(20);
  cpu::max_pool2d_forward(g, x.data(), y.data(), indices.data());
  EXPECT_EQ(indices, (std::vector<int64_t>{7, 10, 11, 13, 15, 2, 19, 6, 21, 23, 11, 13, 28, 15, 33, 33, 21, 23, 24, 27}));
  expect_close(y, std::vector<double>{-0.3141449946, -0.2946716015, 0.92751276, 0.09798943214, 0.9219175457,
                                      0.9525761943, 0.8994389591, 0.9142404838, 0.2057029977, 0.9759975467,
                                      0.92751276, 0.09798943214, 0.9931258453, 0.9219175457, 0.9342465013,
                                      0.9342465013, 0.2057029977, 0.9759975467, -0.1080888592, -0.04695094188},
               1e-9 + tolerance<T>());
}

// torch 1.13: the same input with NaN at flat positions 3, 9, 10, 30, F.max_pool2d(x, 3, 2, 1).
// NaN propagates and the index is that of the last NaN in the window.
TYPED_TEST(Pool2dKernelTest, MaxPoolNaNMatchesTorch) {
  using T = TypeParam;
  const Pool2dGeometry g = geometry(1, 5, 7, 3, 3, 2, 2, 1, 1, false);
  auto x = quadratic_wave<T>(35);
  for (int64_t i : {3, 9, 10, 30}) x[i] = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> y(12);
  std::vector<int64_t> indices(12);
  cpu::max_pool2d_forward(g, x.data(), y.data(), indices.data());
  EXPECT_EQ(indices, (std::vector<int64_t>{1, 10, 10, 6, 15, 10, 10, 19, 28, 30, 33, 33}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  expect_close(y, std::vector<double>{0.6961352386, nan, nan, 0.9142404838, 0.9219175457, nan, nan, 0.8994389591,
                                      0.9931258453, nan, 0.9342465013, 0.9342465013},
               1e-9 + tolerance<T>());
}

TYPED_TEST(Pool2dKernelTest, MaxPoolAllNegativeInfinityReportsFirstTap) {
  using T = TypeParam;
  const Pool2dGeometry g = geometry(1, 3, 3, 2, 2, 1, 1, 1, 1, false);
  const std::vector<T> x(9, -std::numeric_limits<T>::infinity());
  std::vector<T> y(16);
  std::vector<int64_t> indices(16);
  cpu::max_pool2d_forward(g, x.data(), y.data(), indices.data());
  // torch 1.13 gives these indices for this case.
  EXPECT_EQ(indices, (std::vector<int64_t>{0, 0, 1, 2, 0, 0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8}));
}

// ---- average pooling ------------------------------------------------------------------------

// One window the plain way: the taps inside the input, and the divisor, which counts the taps
// inside the padded input (clipped at in + pad, which matters with ceil_mode) or only the real ones.
struct NaiveWindow {
  std::vector<int64_t> taps;  // h * in_w + w
  double divisor;
};

NaiveWindow naive_avg_window(const Pool2dGeometry& g, int64_t oh, int64_t ow, bool count_include_pad) {
  NaiveWindow window;
  int64_t padded = 0;
  for (int64_t kh = 0; kh < g.kernel_h; ++kh)
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const int64_t h = oh * g.stride_h - g.pad_h + kh, w = ow * g.stride_w - g.pad_w + kw;
      if (h >= g.in_h + g.pad_h || w >= g.in_w + g.pad_w) continue;
      ++padded;
      if (h >= 0 && h < g.in_h && w >= 0 && w < g.in_w) window.taps.push_back(h * g.in_w + w);
    }
  window.divisor = double(count_include_pad ? padded : int64_t(window.taps.size()));
  return window;
}

template <typename T>
void naive_avg_pool(const Pool2dGeometry& g, bool count_include_pad, const std::vector<T>& x,
                    const std::vector<T>& dy, std::vector<double>& y, std::vector<double>& dx) {
  y.assign(g.planes * g.out_h * g.out_w, 0.0);
  dx.assign(g.planes * g.in_h * g.in_w, 0.0);
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const NaiveWindow window = naive_avg_window(g, oh, ow, count_include_pad);
        const int64_t o = (p * g.out_h + oh) * g.out_w + ow;
        for (int64_t tap : window.taps) {
          y[o] += x[p * g.in_h * g.in_w + tap] / window.divisor;
          dx[p * g.in_h * g.in_w + tap] += dy[o] / window.divisor;
        }
      }
}

std::vector<Pool2dGeometry> avg_pool_cases() {
  return {geometry(6, 12, 12, 3, 3, 2, 2, 1, 1, false), geometry(3, 7, 9, 3, 3, 2, 2, 1, 1, true),
          geometry(2, 5, 6, 3, 3, 2, 2, 1, 1, true),    geometry(4, 11, 10, 3, 2, 3, 2, 1, 1, true),
          geometry(5, 1, 1, 1, 1, 1, 1, 0, 0, false),   geometry(1, 1, 1, 3, 3, 2, 2, 1, 1, true),
          geometry(2, 7, 7, 7, 7, 1, 1, 0, 0, false),   geometry(1, 4, 4, 3, 2, 3, 3, 1, 1, true)};
}

TYPED_TEST(Pool2dKernelTest, AvgPoolMatchesNaive) {
  using T = TypeParam;
  for (const Pool2dGeometry& g : avg_pool_cases()) {
    for (bool count_include_pad : {true, false}) {
      const auto x = random_values<T>(g.planes * g.in_h * g.in_w, 3);
      const auto dy = random_values<T>(g.planes * g.out_h * g.out_w, 4);
      std::vector<T> y(dy.size()), dx(x.size(), T(-7));
      cpu::avg_pool2d_forward(g, count_include_pad, x.data(), y.data());
      cpu::avg_pool2d_backward(g, count_include_pad, dy.data(), dx.data());
      std::vector<double> ny, ndx;
      naive_avg_pool(g, count_include_pad, x, dy, ny, ndx);
      expect_close(y, ny, 4 * tolerance<T>(), "y");
      expect_close(dx, ndx, 4 * tolerance<T>(), "dx");
    }
  }
}

// torch 1.13: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=...) with
// x = sin(0.9 i + 0.2) shaped [1, 1, 5, 6], then backward of dy = sin(0.6 i + 0.1) shaped [1, 1, 3, 4].
// The last column of windows overhangs the padded input: torch divides by the clipped size.
TYPED_TEST(Pool2dKernelTest, AvgPoolCeilModePaddingMatchesTorch) {
  using T = TypeParam;
  const Pool2dGeometry g = geometry(1, 5, 6, 3, 3, 2, 2, 1, 1, true);
  ASSERT_EQ(g.out_h, 3);
  ASSERT_EQ(g.out_w, 4);
  const auto x = testing::wave<T>(30, 0.9, 0.2);
  const auto dy = testing::wave<T>(12, 0.6, 0.1);
  const double tol = 1e-9 + 2 * tolerance<T>();
  std::vector<T> y(12), dx(30);

  cpu::avg_pool2d_forward(g, true, x.data(), y.data());
  cpu::avg_pool2d_backward(g, true, dy.data(), dx.data());
  expect_close(y, std::vector<double>{0.07485889345, 0.4506393371, -0.09694896893, -0.2708323177, -0.4080172313,
                                      0.1309504808, 0.5061268314, 0.07809239362, -0.2332063048, -0.3998187637,
                                      0.293371736, 0.3011391956},
               tol, "y, count_include_pad");
  expect_close(dx, std::vector<double>{0.01109260185, 0.08267234488, 0.07157974303, 0.1786417636, 0.1070620206,
                                       0.2647787019, 0.07758950675, 0.1537893234, 0.07619981663, 0.1243911549,
                                       0.04819133828, 0.05321369677, 0.0664969049, 0.0711169785, 0.004620073604,
                                       -0.05425060872, -0.05887068232, -0.2115650051, -0.0426644965, -0.1164377924,
                                       -0.0737732959, -0.1528842565, -0.07911096058, -0.1643302966, -0.1091614014,
                                       -0.1875547709, -0.07839336951, -0.09863364776, -0.02024027825, 0.04723470852},
               tol, "dx, count_include_pad");

  cpu::avg_pool2d_forward(g, false, x.data(), y.data());
  cpu::avg_pool2d_backward(g, false, dy.data(), dx.data());
  expect_close(y, std::vector<double>{0.1684325103, 0.6759590056, -0.1454234534, -0.8124969532, -0.612025847,
                                      0.1309504808, 0.5061268314, 0.1561847872, -0.5247141858, -0.5997281455,
                                      0.4400576039, 0.9034175867},
               tol, "y");
  expect_close(dx, std::vector<double>{0.02495835416, 0.1323279687, 0.1073696145, 0.2679626454, 0.1605930309,
                                       0.6337430747, 0.1247037115, 0.2366933997, 0.1119896881, 0.2137120367,
                                       0.1017223486, 0.2694837468, 0.09974535735, 0.104365431, 0.004620073604,
                                       -0.05425060872, -0.05887068232, -0.3642593279, -0.1458677958, -0.2588377765,
                                       -0.1129699807, -0.2022010804, -0.0892310997, -0.192194785, -0.2456131532,
                                       -0.3632032074, -0.1175900543, -0.1479504716, -0.03036041738, 0.1720645429},
               tol, "dx");
}

// torch 1.13: F.avg_pool2d(x, (3, 2), 3, 1, ceil_mode=True) with x = sin(0.5 i) shaped [1, 1, 4, 4].
TYPED_TEST(Pool2dKernelTest, AvgPoolRectangularCeilModeMatchesTorch) {
  using T = TypeParam;
  const Pool2dGeometry g = geometry(1, 4, 4, 3, 2, 3, 3, 1, 1, true);
  ASSERT_EQ(g.out_h, 2);
  ASSERT_EQ(g.out_w, 2);
  const auto x = testing::wave<T>(16, 0.5, 0.0);
  std::vector<T> y(4);
  cpu::avg_pool2d_forward(g, true, x.data(), y.data());
  expect_close(y, std::vector<double>{0.1515495711, 0.2715504586, -0.1727029989, -0.01157967079},
               1e-9 + 2 * tolerance<T>());
}

// ---- adaptive average pooling ---------------------------------------------------------------

TYPED_TEST(Pool2dKernelTest, AdaptiveAvgPoolMatchesNaive) {
  using T = TypeParam;
  struct Case {
    int64_t planes, in_h, in_w, out_h, out_w;
  };
  // Global pooling (ResNet's head), overlapping windows, upsampling, 1x1 planes.
  for (const Case& c : {Case{6, 7, 7, 1, 1}, Case{2, 5, 7, 3, 4}, Case{3, 10, 9, 4, 4}, Case{1, 2, 3, 5, 4},
                        Case{4, 1, 1, 1, 1}, Case{1, 1, 1, 2, 3}, Case{64, 33, 35, 7, 7}}) {
    const auto x = random_values<T>(c.planes * c.in_h * c.in_w, 5);
    const auto dy = random_values<T>(c.planes * c.out_h * c.out_w, 6);
    std::vector<double> ny(dy.size()), ndx(x.size(), 0.0);
    for (int64_t p = 0; p < c.planes; ++p)
      for (int64_t oh = 0; oh < c.out_h; ++oh)
        for (int64_t ow = 0; ow < c.out_w; ++ow) {
          const int64_t h0 = int64_t(std::floor(double(oh * c.in_h) / c.out_h));
          const int64_t h1 = int64_t(std::ceil(double((oh + 1) * c.in_h) / c.out_h));
          const int64_t w0 = int64_t(std::floor(double(ow * c.in_w) / c.out_w));
          const int64_t w1 = int64_t(std::ceil(double((ow + 1) * c.in_w) / c.out_w));
          const int64_t o = (p * c.out_h + oh) * c.out_w + ow;
          const double count = double((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) {
              const int64_t i = (p * c.in_h + h) * c.in_w + w;
              ny[o] += x[i] / count;
              ndx[i] += dy[o] / count;
            }
        }
    std::vector<T> y(dy.size()), dx(x.size(), T(-7));
    cpu::adaptive_avg_pool2d_forward(c.planes, c.in_h, c.in_w, c.out_h, c.out_w, x.data(), y.data());
    cpu::adaptive_avg_pool2d_backward(c.planes, c.in_h, c.in_w, c.out_h, c.out_w, dy.data(), dx.data());
    expect_close(y, ny, 4 * tolerance<T>(), "y");
    expect_close(dx, ndx, 4 * tolerance<T>(), "dx");
  }
}

// torch 1.13: F.adaptive_avg_pool2d(x, (3, 4)) with x = sin(1.1 i + 0.4) shaped [1, 1, 5, 7],
// then backward of dy = sin(0.6 i + 0.1) shaped [1, 1, 3, 4].
TYPED_TEST(Pool2dKernelTest, AdaptiveAvgPoolMatchesTorch) {
  using T = TypeParam;
  const auto x = testing::wave<T>(35, 1.1, 0.4);
  const auto dy = testing::wave<T>(12, 0.6, 0.1);
  std::vector<T> y(12), dx(35);
  cpu::adaptive_avg_pool2d_forward<T>(1, 5, 7, 3, 4, x.data(), y.data());
  cpu::adaptive_avg_pool2d_backward<T>(1, 5, 7, 3, 4, dy.data(), dx.data());
  const double tol = 1e-9 + 2 * tolerance<T>();
  expect_close(y, std::vector<double>{0.6449232635, -0.08016070064, -0.3377276705, 0.497004645, -0.2223716261,
                                      -0.2079583086, 0.2702176172, 0.05224092378, -0.2367258173, 0.4619002777,
                                      -0.1582984782, -0.5929009248},
               tol, "y");
  expect_close(dx, std::vector<double>{0.02495835416, 0.1323279687, 0.1073696145, 0.2679626454, 0.1605930309,
                                       0.3971680528, 0.2365750219, 0.1247037115, 0.2366933997, 0.1119896881,
                                       0.2137120367, 0.1017223486, 0.1856030477, 0.08388069913, 0.09974535735,
                                       0.104365431, 0.004620073604, -0.05425060872, -0.05887068232, -0.2115650051,
                                       -0.1526943228, -0.1458677958, -0.2588377765, -0.1129699807, -0.2022010804,
                                       -0.0892310997, -0.1407129423, -0.05148184264, -0.2456131532, -0.3632032074,
                                       -0.1175900543, -0.1479504716, -0.03036041738, 0.07085206278, 0.1012124802},
               tol, "dx");
}

// ---- threads ----------------------------------------------------------------------------------

TYPED_TEST(Pool2dKernelTest, ThreadCountDoesNotChangeResults) {
  using T = TypeParam;
  const Pool2dGeometry g = geometry(64, 56, 56, 3, 3, 2, 2, 1, 1, true);
  const auto x = random_values<T>(g.planes * g.in_h * g.in_w, 7);
  const auto dy = random_values<T>(g.planes * g.out_h * g.out_w, 8);
  std::vector<T> results[2];
  for (int threads : {1, 2}) {
    ThreadCount scope(threads);
    std::vector<T> y(dy.size()), dx(x.size()), avg_y(dy.size()), avg_dx(x.size()), ad_y(g.planes * 9),
        ad_dx(x.size());
    std::vector<int64_t> indices(dy.size());
    cpu::max_pool2d_forward(g, x.data(), y.data(), indices.data());
    cpu::max_pool2d_backward(g, dy.data(), indices.data(), dx.data());
    cpu::avg_pool2d_forward(g, false, x.data(), avg_y.data());
    cpu::avg_pool2d_backward(g, false, dy.data(), avg_dx.data());
    cpu::adaptive_avg_pool2d_forward(g.planes, g.in_h, g.in_w, 3, 3, x.data(), ad_y.data());
    cpu::adaptive_avg_pool2d_backward(g.planes, g.in_h, g.in_w, 3, 3, ad_y.data(), ad_dx.data());
    for (const auto* v : {&y, &dx, &avg_y, &avg_dx, &ad_y, &ad_dx}) results[threads - 1].insert(results[threads - 1].end(), v->begin(), v->end());
  }
  EXPECT_TRUE(bit_identical(results[0], results[1]));
}

}  // namespace
}  // namespace graft::kernels
