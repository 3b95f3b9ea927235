// The CUDA convolutions (hand-written implicit GEMMs and the cuDNN baseline) against the CPU twin
// (kernels::cpu::conv2d_*, itself tested against direct loops in tests/kernels/conv2d_test.cpp)
// and, for the forward pass on small shapes, against cpu::conv2d_forward_reference. Shapes: 1 x 1,
// 3 x 3 with stride 1 and 2, 7 x 7 stride 2 pad 3, dilation 2, stride 3 with dilation 2 and 5 x 5
// stride 2 dilation 3 (data-gradient phases reached by no tap, by one, by taps 2 apart), groups,
// depthwise, odd sizes (5 x 7 images, 3 and 13 channels), a 1 x 1 output, padding wider than the
// kernel, more than 64 output channels (the 128-row tiles), few tiles over a deep product (the
// split-depth second pass) and two ResNet-50 layers at batch 2. Outputs start as NaN, so an
// element a kernel forgets to write fails.
//
// Tolerance, per element: |got - want| <= 2 * 4 * K * eps(float) * S + FLT_MIN, where K is the
// number of products summed into the element (plus one for a bias) and S the same sum over
// absolute values (the CPU twin run on |inputs|): the classic bound for a K-term float sum, for
// each of the two results compared. Inputs are uniform in [-1, 1]; an indexing mistake misses the
// bound by orders of magnitude.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/conv2d.h"
#include "tests/kernels/conv2d_testing.h"
#include "tests/kernels/cuda/cuda_kernel_testing.h"
#include "tests/support/gpu.h"

namespace graft::kernels {
namespace {

using testing::geometry;

using graft::testing::DeviceBuffer;
using testing::bit_identical;
using testing::OffsetBuffer;

using ForwardFn = void (*)(const Conv2dGeometry&, const float*, const float*, const float*, float*, Stream);
using BackwardDataFn = void (*)(const Conv2dGeometry&, const float*, const float*, float*, Stream);
using BackwardWeightFn = void (*)(const Conv2dGeometry&, const float*, const float*, float*, float*, Stream);

struct Impl {
  const char* name;
  ForwardFn forward;
  BackwardDataFn backward_data;
  BackwardWeightFn backward_weight;
};
const Impl kOwn{"own", cuda::conv2d_forward, cuda::conv2d_backward_data, cuda::conv2d_backward_weight};
const Impl kCudnn{"cudnn", vendor::conv2d_forward, vendor::conv2d_backward_data, vendor::conv2d_backward_weight};

const float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kFloatEps = std::numeric_limits<float>::epsilon();

struct Case {
  std::string name;
  Conv2dGeometry g;
  bool bias;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"pointwise_1x1", geometry(3, 8, 16, 5, 7, 1, 1), true},
      {"pointwise_1x1_wide_odd_depth", geometry(2, 70, 130, 9, 11, 1, 1), true},
      {"conv3x3_pad1_odd_sizes", geometry(2, 13, 3, 5, 7, 3, 3, 1, 1, 1, 1), true},
      {"conv3x3_pad1_stride2", geometry(3, 16, 24, 11, 9, 3, 3, 2, 2, 1, 1), false},
      {"conv7x7_stride2_pad3", geometry(2, 3, 8, 23, 19, 7, 7, 2, 2, 3, 3), true},
      {"dilation2", geometry(2, 4, 6, 11, 10, 3, 3, 1, 1, 2, 2, 2, 2), false},
      {"stride3_dilation2", geometry(2, 5, 7, 13, 12, 3, 3, 3, 3, 2, 2, 2, 2), true},
      {"kernel5_stride2_dilation3", geometry(2, 6, 5, 17, 16, 5, 5, 2, 2, 4, 4, 3, 3), false},
      {"groups2", geometry(3, 6, 4, 8, 9, 3, 3, 1, 1, 1, 1, 1, 1, 2), true},
      {"depthwise", geometry(3, 5, 5, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 5), true},
      {"depthwise_multiplier2_stride2", geometry(2, 4, 8, 10, 11, 3, 3, 2, 2, 1, 1, 1, 1, 4), false},
      {"output_1x1", geometry(3, 4, 6, 5, 5, 5, 5), true},
      {"downsample_1x1_stride2", geometry(3, 8, 12, 9, 9, 1, 1, 2, 2), false},
      {"rectangular_everything", geometry(2, 3, 5, 7, 12, 3, 5, 2, 1, 1, 2, 1, 2), true},
      {"padding_beyond_kernel", geometry(2, 3, 4, 5, 5, 1, 1, 1, 1, 2, 2), true},
      {"stride_exceeds_kernel", geometry(2, 4, 3, 10, 10, 2, 2, 3, 3), false},
      {"many_tiles", geometry(3, 32, 16, 46, 50, 3, 3, 1, 1, 1, 1), false},
      {"deep_product_few_tiles", geometry(2, 96, 80, 6, 6, 3, 3, 1, 1, 1, 1), true},
      {"resnet50_layer2.0.conv2_batch2", geometry(2, 128, 128, 56, 56, 3, 3, 2, 2, 1, 1), false},
      {"resnet50_layer4.0.conv3_batch2", geometry(2, 512, 2048, 7, 7, 1, 1), false},
  };
  return all;
}

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& e : v) e = dist(rng);
  return v;
}

std::vector<float> absolute(std::vector<float> v) {
  for (float& e : v) e = std::abs(e);
  return v;
}

int64_t x_size(const Conv2dGeometry& g) { return g.batch * g.in_channels * g.in_h * g.in_w; }
int64_t y_size(const Conv2dGeometry& g) { return g.batch * g.out_channels * g.out_h() * g.out_w(); }
int64_t w_size(const Conv2dGeometry& g) { return g.out_channels * g.in_channels_per_group() * g.kernel_h * g.kernel_w; }

// Every element within 2 * 4 * terms * eps * scale (see the top of the file); reports the first
// few that are not.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& scale,
                  int64_t terms, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double tol = 2.0 * 4.0 * double(std::max<int64_t>(terms, 1)) * kFloatEps;
  int reported = 0;
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = tol * double(scale[i]) + std::numeric_limits<float>::min();
    if (std::abs(double(got[i]) - double(want[i])) <= bound) continue;  // NaN fails here too
    ++bad;
    if (reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i] << " (bound "
                    << bound << ")";
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " elements off";
}

struct Inputs {
  std::vector<float> x, w, bias, dy;
  explicit Inputs(const Conv2dGeometry& g)
      : x(random_values(x_size(g), 1)), w(random_values(w_size(g), 2)), bias(random_values(g.out_channels, 3)),
        dy(random_values(y_size(g), 4)) {}
};

std::vector<float> run_forward(const Impl& impl, const Conv2dGeometry& g, const std::vector<float>& x,
                               const std::vector<float>& w, const std::vector<float>* bias) {
  DeviceBuffer<float> dx(x), dw(w), dy(std::vector<float>(y_size(g), kNaN));
  DeviceBuffer<float> db(bias != nullptr ? *bias : std::vector<float>());
  impl.forward(g, dx.get(), dw.get(), bias != nullptr ? db.get() : nullptr, dy.get(), nullptr);
  return dy.download();
}

std::vector<float> run_backward_data(const Impl& impl, const Conv2dGeometry& g, const std::vector<float>& dy,
                                     const std::vector<float>& w) {
  DeviceBuffer<float> d_dy(dy), d_w(w), d_dx(std::vector<float>(x_size(g), kNaN));
  impl.backward_data(g, d_dy.get(), d_w.get(), d_dx.get(), nullptr);
  return d_dx.download();
}

struct WeightGradients {
  std::vector<float> dw, dbias;
};

WeightGradients run_backward_weight(const Impl& impl, const Conv2dGeometry& g, const std::vector<float>& x,
                                    const std::vector<float>& dy, bool with_bias) {
  DeviceBuffer<float> d_x(x), d_dy(dy), d_dw(std::vector<float>(w_size(g), kNaN));
  DeviceBuffer<float> d_db(std::vector<float>(with_bias ? g.out_channels : 0, kNaN));
  impl.backward_weight(g, d_x.get(), d_dy.get(), d_dw.get(), with_bias ? d_db.get() : nullptr, nullptr);
  return {d_dw.download(), d_db.download()};
}

void check_forward(const Impl& impl, const Case& c) {
  SCOPED_TRACE(std::string(impl.name) + " " + c.name);
  const Conv2dGeometry& g = c.g;
  const Inputs in(g);
  const std::vector<float>* bias = c.bias ? &in.bias : nullptr;
  const std::vector<float> got = run_forward(impl, g, in.x, in.w, bias);

  std::vector<float> want(y_size(g)), scale(y_size(g));
  const std::vector<float> abs_bias = absolute(in.bias);
  cpu::conv2d_forward(g, in.x.data(), in.w.data(), c.bias ? in.bias.data() : nullptr, want.data());
  cpu::conv2d_forward(g, absolute(in.x).data(), absolute(in.w).data(), c.bias ? abs_bias.data() : nullptr,
                      scale.data());
  const int64_t terms = g.in_channels_per_group() * g.kernel_h * g.kernel_w + (c.bias ? 1 : 0);
  expect_close(got, want, scale, terms, "forward vs the CPU twin");
  if (g.macs() <= 2'000'000) {
    std::vector<float> reference(y_size(g));
    cpu::conv2d_forward_reference(g, in.x.data(), in.w.data(), c.bias ? in.bias.data() : nullptr, reference.data());
    expect_close(got, reference, scale, terms, "forward vs the direct-loop reference");
  }
}

void check_backward_data(const Impl& impl, const Case& c) {
  SCOPED_TRACE(std::string(impl.name) + " " + c.name);
  const Conv2dGeometry& g = c.g;
  const Inputs in(g);
  const std::vector<float> got = run_backward_data(impl, g, in.dy, in.w);
  std::vector<float> want(x_size(g)), scale(x_size(g));
  cpu::conv2d_backward_data(g, in.dy.data(), in.w.data(), want.data());
  cpu::conv2d_backward_data(g, absolute(in.dy).data(), absolute(in.w).data(), scale.data());
  expect_close(got, want, scale, g.out_channels_per_group() * g.kernel_h * g.kernel_w, "dx vs the CPU twin");
}

void check_backward_weight(const Impl& impl, const Case& c) {
  SCOPED_TRACE(std::string(impl.name) + " " + c.name);
  const Conv2dGeometry& g = c.g;
  const Inputs in(g);
  const WeightGradients got = run_backward_weight(impl, g, in.x, in.dy, c.bias);
  std::vector<float> want_dw(w_size(g)), scale_dw(w_size(g)), want_db(g.out_channels), scale_db(g.out_channels);
  cpu::conv2d_backward_weight(g, in.x.data(), in.dy.data(), want_dw.data(), want_db.data());
  cpu::conv2d_backward_weight(g, absolute(in.x).data(), absolute(in.dy).data(), scale_dw.data(), scale_db.data());
  const int64_t pixels = g.batch * g.out_h() * g.out_w();
  expect_close(got.dw, want_dw, scale_dw, pixels, "dw vs the CPU twin");
  if (c.bias) expect_close(got.dbias, want_db, scale_db, pixels, "dbias vs the CPU twin");
}

TEST(CudaConv2d, ForwardMatchesCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : cases()) check_forward(kOwn, c);
}

TEST(CudaConv2d, BackwardDataMatchesCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : cases()) check_backward_data(kOwn, c);
}

TEST(CudaConv2d, BackwardWeightAndBiasMatchCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : cases()) check_backward_weight(kOwn, c);
}

TEST(CudaConv2d, CudnnForwardMatchesCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : cases()) check_forward(kCudnn, c);
}

TEST(CudaConv2d, CudnnBackwardDataMatchesCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : cases()) check_backward_data(kCudnn, c);
}

TEST(CudaConv2d, CudnnBackwardWeightAndBiasMatchCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : cases()) check_backward_weight(kCudnn, c);
}

// Two runs of every pass give the same bits: one shape that splits the depth across blocks (the
// second pass adds the splits in a fixed order) and one that does not.
TEST(CudaConv2d, RepeatsBitForBit) {
  GRAFT_REQUIRE_GPU();
  for (const Impl* impl : {&kOwn, &kCudnn})
    for (const char* name : {"deep_product_few_tiles", "many_tiles"}) {
      const Case* c = nullptr;
      for (const Case& candidate : cases())
        if (candidate.name == name) c = &candidate;
      ASSERT_NE(c, nullptr);
      SCOPED_TRACE(std::string(impl->name) + " " + name);
      const Inputs in(c->g);
      EXPECT_TRUE(bit_identical(run_forward(*impl, c->g, in.x, in.w, &in.bias), run_forward(*impl, c->g, in.x, in.w, &in.bias)));
      EXPECT_TRUE(bit_identical(run_backward_data(*impl, c->g, in.dy, in.w), run_backward_data(*impl, c->g, in.dy, in.w)));
      const WeightGradients first = run_backward_weight(*impl, c->g, in.x, in.dy, true);
      const WeightGradients second = run_backward_weight(*impl, c->g, in.x, in.dy, true);
      EXPECT_TRUE(bit_identical(first.dw, second.dw));
      EXPECT_TRUE(bit_identical(first.dbias, second.dbias));
    }
}

// Batch 0: nothing to compute forward or backward to the data, and the weight and bias gradients
// are sums over no pixels: zero. No input channels: the output is the bias. No output channels:
// dx is zero.
TEST(CudaConv2d, EmptyBatchAndChannels) {
  GRAFT_REQUIRE_GPU();
  for (const Impl* impl : {&kOwn, &kCudnn}) {
    SCOPED_TRACE(impl->name);
    const Conv2dGeometry empty = geometry(0, 4, 6, 5, 5, 3, 3, 1, 1, 1, 1);
    const Inputs in(empty);
    EXPECT_TRUE(run_forward(*impl, empty, in.x, in.w, &in.bias).empty());
    EXPECT_TRUE(run_backward_data(*impl, empty, in.dy, in.w).empty());
    const WeightGradients grads = run_backward_weight(*impl, empty, in.x, in.dy, true);
    EXPECT_EQ(grads.dw, std::vector<float>(w_size(empty), 0.0f));
    EXPECT_EQ(grads.dbias, std::vector<float>(empty.out_channels, 0.0f));

    const Conv2dGeometry no_inputs = geometry(2, 0, 3, 4, 5, 3, 3, 1, 1, 1, 1);
    const Inputs in0(no_inputs);
    std::vector<float> want(y_size(no_inputs));
    for (int64_t i = 0; i < y_size(no_inputs); ++i) want[i] = in0.bias[i / 20 % 3];
    EXPECT_EQ(run_forward(*impl, no_inputs, in0.x, in0.w, &in0.bias), want);

    const Conv2dGeometry no_outputs = geometry(2, 3, 0, 4, 5, 3, 3, 1, 1, 1, 1);
    const Inputs in1(no_outputs);
    EXPECT_EQ(run_backward_data(*impl, no_outputs, in1.dy, in1.w), std::vector<float>(x_size(no_outputs), 0.0f));
  }
}

// Buffers that start 4 bytes past 16-byte alignment send the own kernels down their scalar load
// and store paths.
TEST(CudaConv2d, MisalignedBuffers) {
  GRAFT_REQUIRE_GPU();
  for (const char* name : {"pointwise_1x1_wide_odd_depth", "conv3x3_pad1_stride2", "deep_product_few_tiles"}) {
    const Case* c = nullptr;
    for (const Case& candidate : cases())
      if (candidate.name == name) c = &candidate;
    ASSERT_NE(c, nullptr);
    SCOPED_TRACE(name);
    const Conv2dGeometry& g = c->g;
    const Inputs in(g);
    OffsetBuffer<float> x(in.x, 1), w(in.w, 1), bias(in.bias, 1), dy(in.dy, 1);
    OffsetBuffer<float> y(std::vector<float>(y_size(g), kNaN), 1), dx(std::vector<float>(x_size(g), kNaN), 1);
    OffsetBuffer<float> dw(std::vector<float>(w_size(g), kNaN), 1), db(std::vector<float>(g.out_channels, kNaN), 1);
    cuda::conv2d_forward(g, x.get(), w.get(), bias.get(), y.get(), nullptr);
    cuda::conv2d_backward_data(g, dy.get(), w.get(), dx.get(), nullptr);
    cuda::conv2d_backward_weight(g, x.get(), dy.get(), dw.get(), db.get(), nullptr);
    EXPECT_TRUE(bit_identical(y.download(), run_forward(kOwn, g, in.x, in.w, &in.bias)));
    EXPECT_TRUE(bit_identical(dx.download(), run_backward_data(kOwn, g, in.dy, in.w)));
    const WeightGradients aligned = run_backward_weight(kOwn, g, in.x, in.dy, true);
    EXPECT_TRUE(bit_identical(dw.download(), aligned.dw));
    EXPECT_TRUE(bit_identical(db.download(), aligned.dbias));
  }
}

TEST(CudaConv2d, RejectsBadArguments) {
  GRAFT_REQUIRE_GPU();
  const Conv2dGeometry good = geometry(2, 4, 6, 5, 5, 3, 3, 1, 1, 1, 1);
  const Inputs in(good);
  DeviceBuffer<float> x(in.x), w(in.w), y(std::vector<float>(y_size(good))), dy(in.dy);
  auto with = [&](auto change) {
    Conv2dGeometry g = good;
    change(g);
    return g;
  };
  const Conv2dGeometry bad[] = {
      with([](Conv2dGeometry& g) { g.batch = -1; }),
      with([](Conv2dGeometry& g) { g.in_h = -3; }),
      with([](Conv2dGeometry& g) { g.stride_w = 0; }),
      with([](Conv2dGeometry& g) { g.groups = 3; }),     // 4 input channels
      with([](Conv2dGeometry& g) { g.kernel_h = 9; }),   // does not fit the padded 7 rows
      with([](Conv2dGeometry& g) { g.dilation_h = 0; }),
  };
  for (const Impl* impl : {&kOwn, &kCudnn}) {
    SCOPED_TRACE(impl->name);
    for (const Conv2dGeometry& g : bad) {
      EXPECT_THROW(impl->forward(g, x.get(), w.get(), nullptr, y.get(), nullptr), std::invalid_argument);
      EXPECT_THROW(impl->backward_data(g, dy.get(), w.get(), x.get(), nullptr), std::invalid_argument);
      EXPECT_THROW(impl->backward_weight(g, x.get(), dy.get(), w.get(), nullptr, nullptr), std::invalid_argument);
    }
    EXPECT_THROW(impl->forward(good, nullptr, w.get(), nullptr, y.get(), nullptr), std::invalid_argument);
    EXPECT_THROW(impl->forward(good, x.get(), w.get(), nullptr, nullptr, nullptr), std::invalid_argument);
    EXPECT_THROW(impl->backward_data(good, dy.get(), nullptr, x.get(), nullptr), std::invalid_argument);
    EXPECT_THROW(impl->backward_weight(good, x.get(), dy.get(), nullptr, nullptr, nullptr), std::invalid_argument);
  }
}

}  // namespace
}  // namespace graft::kernels
