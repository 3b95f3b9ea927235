// CPU conv2d kernels against oracles, for float and double:
//  - forward against conv2d_forward_reference (direct loops, double accumulation);
//  - backward_data / backward_weight against a naive scatter loop (double accumulation) and
//    against the adjoint identities <conv(x, w), dy> = <x, dx> = <w, dw>;
//  - bit-identical results on repeated runs with the same thread count.
// Each shape runs on 1 and on 3 threads (3 threads split the work unevenly on purpose), in float with
// every GEMM micro-kernel this CPU runs (their tile shapes differ: 6 x 16 and 8 x 32).
// Tolerances: |actual - expected| <= tol * (1 + |expected|), tol = 1e-4 (float) or 1e-10
// (double), with inputs uniform in [-1, 1]; adjoint identities to 1e-5 (float) or 1e-12 (double)
// of the Cauchy-Schwarz bound |a| |b|.
#include "kernels/conv2d.h"
#include "tests/kernels/conv2d_testing.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/parallel.h"
#include "tests/kernels/cpu_isa_testing.h"

namespace graft::kernels::cpu {
namespace {

using kernels::testing::ActiveIsa;
using kernels::testing::geometry;
using kernels::testing::isa_label;
using kernels::testing::runnable_isas;

struct Shape {
  std::string name;
  Conv2dGeometry g;
  bool bias;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {"pointwise_1x1", geometry(3, 8, 16, 5, 7, 1, 1), true},
      {"conv3x3_pad1_batch1", geometry(1, 3, 4, 9, 9, 3, 3, 1, 1, 1, 1), true},
      // Stride 1 and as wide as the input: rows of the column matrix are shifted planes.
      {"same_width_unpadded_height", geometry(2, 3, 4, 9, 8, 3, 3, 1, 1, 0, 1), true},
      {"same_width_5x5_pad2", geometry(2, 2, 3, 4, 6, 5, 5, 1, 1, 2, 2), false},
      {"same_width_kernel_taller_than_image", geometry(3, 2, 4, 3, 5, 5, 3, 1, 1, 1, 1), true},
      {"conv7x7_stride2_pad3", geometry(3, 3, 8, 23, 19, 7, 7, 2, 2, 3, 3), true},
      {"dilation2", geometry(2, 4, 6, 11, 10, 3, 3, 1, 1, 2, 2, 2, 2), false},
      {"groups2", geometry(3, 6, 4, 8, 9, 3, 3, 1, 1, 1, 1, 1, 1, 2), true},
      {"depthwise", geometry(3, 5, 5, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 5), true},
      {"depthwise_multiplier2_stride2", geometry(2, 4, 8, 10, 11, 3, 3, 2, 2, 1, 1, 1, 1, 4),
       false},
      {"single_input_channel", geometry(2, 1, 6, 8, 8, 3, 3), true},
      {"output_size1", geometry(3, 4, 6, 5, 5, 5, 5), true},
      {"downsample_1x1_stride2", geometry(3, 8, 12, 9, 9, 1, 1, 2, 2), false},
      {"rectangular_everything", geometry(2, 3, 5, 7, 12, 3, 5, 2, 1, 1, 2, 1, 2), true},
      {"padding_beyond_kernel", geometry(2, 3, 4, 5, 5, 1, 1, 1, 1, 2, 2), true},
      {"stride_exceeds_kernel", geometry(2, 4, 3, 10, 10, 2, 2, 3, 3), false},
      // Large enough that one image is cut into several column tiles.
      {"large_image_tiles", geometry(3, 32, 16, 46, 50, 3, 3, 1, 1, 1, 1), false},
      {"large_image_stride2", geometry(2, 32, 8, 96, 96, 3, 3, 2, 2, 1, 1), true},
      // Small outputs: several images share one GEMM.
      {"small_images_batched", geometry(6, 16, 24, 5, 5, 3, 3, 1, 1, 1, 1), true},
      {"small_pointwise_batched", geometry(6, 32, 24, 6, 6, 1, 1), true},
      {"grouped_small_images_batched", geometry(5, 8, 12, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2), false},
      // Fewer output tiles than threads: the output channels are split among threads too.
      {"one_image_split_channels", geometry(1, 8, 30, 6, 5, 3, 3, 1, 1, 1, 1), true},
      {"two_images_split_channels", geometry(2, 16, 24, 4, 4, 3, 3, 1, 1, 1, 1), true},
  };
  return all;
}

template <typename T>
std::vector<T> random_values(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(count);
  for (T& e : v) e = static_cast<T>(dist(rng));
  return v;
}

int64_t x_size(const Conv2dGeometry& g) { return g.batch * g.in_channels * g.in_h * g.in_w; }
int64_t y_size(const Conv2dGeometry& g) { return g.batch * g.out_channels * g.out_h() * g.out_w(); }
int64_t w_size(const Conv2dGeometry& g) {
  return g.out_channels * g.in_channels_per_group() * g.kernel_h * g.kernel_w;
}

// The gradients by brute force: the reference's loops, each product scattered to both operands.
struct NaiveGradients {
  std::vector<double> dx, dw, dbias;
};

template <typename T>
NaiveGradients naive_gradients(const Conv2dGeometry& g, const std::vector<T>& x,
                               const std::vector<T>& w, const std::vector<T>& dy) {
  NaiveGradients grad{std::vector<double>(x.size()), std::vector<double>(w.size()),
                      std::vector<double>(g.out_channels)};
  const int64_t out_h = g.out_h(), out_w = g.out_w();
  const int64_t in_cpg = g.in_channels_per_group(), out_cpg = g.out_channels_per_group();
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t oc = 0; oc < g.out_channels; ++oc)
      for (int64_t oh = 0; oh < out_h; ++oh)
        for (int64_t ow = 0; ow < out_w; ++ow) {
          const double d = dy[((b * g.out_channels + oc) * out_h + oh) * out_w + ow];
          grad.dbias[oc] += d;
          for (int64_t c = 0; c < in_cpg; ++c)
            for (int64_t i = 0; i < g.kernel_h; ++i)
              for (int64_t j = 0; j < g.kernel_w; ++j) {
                const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
                const int64_t iw = ow * g.stride_w - g.pad_w + j * g.dilation_w;
                if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
                const int64_t xi =
                    ((b * g.in_channels + oc / out_cpg * in_cpg + c) * g.in_h + ih) * g.in_w + iw;
                const int64_t wi = ((oc * in_cpg + c) * g.kernel_h + i) * g.kernel_w + j;
                grad.dx[xi] += double(w[wi]) * d;
                grad.dw[wi] += double(x[xi]) * d;
              }
        }
  return grad;
}

template <typename T>
double tolerance() {
  return sizeof(T) == sizeof(float) ? 1e-4 : 1e-10;
}

template <typename T>
double adjoint_tolerance() {
  return sizeof(T) == sizeof(float) ? 1e-5 : 1e-12;
}

template <typename T, typename E>
void expect_close(const std::vector<T>& actual, const std::vector<E>& expected, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int64_t bad = 0, first_bad = -1;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double e = double(expected[i]);
    if (!(std::abs(double(actual[i]) - e) <= tolerance<T>() * (1.0 + std::abs(e)))) {
      if (bad++ == 0) first_bad = static_cast<int64_t>(i);
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << actual.size() << " elements off; first at "
                    << first_bad << ": " << (first_bad >= 0 ? double(actual[first_bad]) : 0.0)
                    << " vs " << (first_bad >= 0 ? double(expected[first_bad]) : 0.0);
}

template <typename A, typename B>
double dot(const std::vector<A>& a, const std::vector<B>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

// |<a, b> - <c, d>| within the tolerance of the Cauchy-Schwarz bound of the first product.
template <typename T, typename A, typename B, typename C, typename D>
void expect_same_inner_product(const std::vector<A>& a, const std::vector<B>& b,
                               const std::vector<C>& c, const std::vector<D>& d, const char* what) {
  const double bound = std::sqrt(dot(a, a) * dot(b, b));
  EXPECT_NEAR(dot(a, b), dot(c, d), adjoint_tolerance<T>() * bound) << what;
}

// Sets the kernels' thread count for one scope.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(saved_); }

 private:
  int saved_;
};

template <typename T>
class Conv2dTest : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Conv2dTest, Precisions);

TYPED_TEST(Conv2dTest, ForwardMatchesReference) {
  using T = TypeParam;
  for (const Shape& s : shapes()) {
    const Conv2dGeometry& g = s.g;
    const auto x = random_values<T>(x_size(g), 1), w = random_values<T>(w_size(g), 2);
    const auto bias = random_values<T>(g.out_channels, 3);
    const T* bias_ptr = s.bias ? bias.data() : nullptr;
    std::vector<T> expected(y_size(g));
    conv2d_forward_reference(g, x.data(), w.data(), bias_ptr, expected.data());
    for (const auto isa : runnable_isas<T>()) {
      const ActiveIsa active(isa);
      for (int threads : {1, 3}) {
        SCOPED_TRACE(s.name + " on " + std::to_string(threads) + " threads, " + isa_label(isa));
        ThreadCount scope(threads);
        std::vector<T> y(y_size(g), T(std::nan("")));
        conv2d_forward(g, x.data(), w.data(), bias_ptr, y.data());
        expect_close(y, expected, "y");
      }
    }
  }
}

TYPED_TEST(Conv2dTest, BackwardMatchesNaiveGradients) {
  using T = TypeParam;
  for (const Shape& s : shapes()) {
    const Conv2dGeometry& g = s.g;
    const auto x = random_values<T>(x_size(g), 4), w = random_values<T>(w_size(g), 5);
    const auto dy = random_values<T>(y_size(g), 6);
    const NaiveGradients expected = naive_gradients(g, x, w, dy);
    for (const auto isa : runnable_isas<T>()) {
      const ActiveIsa active(isa);
      for (int threads : {1, 3}) {
        SCOPED_TRACE(s.name + " on " + std::to_string(threads) + " threads, " + isa_label(isa));
        ThreadCount scope(threads);
        // Garbage in the outputs: the kernels must overwrite, not accumulate.
        std::vector<T> dx(x.size(), T(7)), dw(w.size(), T(7)), dbias(g.out_channels, T(7));
        conv2d_backward_data(g, dy.data(), w.data(), dx.data());
        conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), dbias.data());
        expect_close(dx, expected.dx, "dx");
        expect_close(dw, expected.dw, "dw");
        expect_close(dbias, expected.dbias, "dbias");
      }
    }
  }
}

TYPED_TEST(Conv2dTest, BackwardSatisfiesAdjointIdentities) {
  using T = TypeParam;
  for (const Shape& s : shapes()) {
    SCOPED_TRACE(s.name);
    const Conv2dGeometry& g = s.g;
    const auto x = random_values<T>(x_size(g), 7), w = random_values<T>(w_size(g), 8);
    const auto dy = random_values<T>(y_size(g), 9);
    std::vector<T> y(y_size(g)), dx(x.size()), dw(w.size());
    conv2d_forward_reference(g, x.data(), w.data(), static_cast<const T*>(nullptr), y.data());
    conv2d_backward_data(g, dy.data(), w.data(), dx.data());
    conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), static_cast<T*>(nullptr));
    expect_same_inner_product<T>(y, dy, x, dx, "<conv(x, w), dy> vs <x, dx>");
    expect_same_inner_product<T>(y, dy, w, dw, "<conv(x, w), dy> vs <w, dw>");
  }
}

TYPED_TEST(Conv2dTest, RepeatedRunsAreBitIdentical) {
  using T = TypeParam;
  ThreadCount scope(2);
  for (const Shape& s : shapes()) {
    SCOPED_TRACE(s.name);
    const Conv2dGeometry& g = s.g;
    const auto x = random_values<T>(x_size(g), 10), w = random_values<T>(w_size(g), 11);
    const auto dy = random_values<T>(y_size(g), 12), bias = random_values<T>(g.out_channels, 13);
    std::vector<T> runs[2][4];
    for (auto& run : runs) {
      run[0].resize(y_size(g)), run[1].resize(x.size()), run[2].resize(w.size());
      run[3].resize(g.out_channels);
      conv2d_forward(g, x.data(), w.data(), bias.data(), run[0].data());
      conv2d_backward_data(g, dy.data(), w.data(), run[1].data());
      conv2d_backward_weight(g, x.data(), dy.data(), run[2].data(), run[3].data());
    }
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(0, std::memcmp(runs[0][k].data(), runs[1][k].data(), runs[0][k].size() * sizeof(T)))
          << "output " << k << " (y, dx, dw, dbias) differs between runs";
    }
  }
}

}  // namespace
}  // namespace graft::kernels::cpu
