// The CUDA batch norm kernels (and the cuDNN baseline) against the CPU twins. Both accumulate the
// statistics and gradient sums in double, in different orders (the GPU's sums are shifted by each
// channel's first element and split over blocks), then round to T: results agree within
// kTolerance<T> relative (at least 1 in magnitude): 1e-5 for float, 1e-11 for double. cuDNN does
// not document how it accumulates: 1e-4 for it. Shapes cover one channel, [N, C] inputs (hw = 1),
// batch 1, a single value per channel, odd planes (7x7, 13x17), many channels (more than the
// plan's block target), channels split over many blocks, and the 16-byte-vector and one-element
// paths (hw % 4, misaligned buffers).
#include "kernels/batch_norm.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/cuda/cuda_kernel_testing.h"
#include "tests/kernels/light_kernel_testing.h"
#include "tests/support/gpu.h"

namespace graft::kernels {
namespace {

using graft::testing::DeviceBuffer;
using testing::expect_close;
using testing::OffsetBuffer;
using testing::random_values;
using testing::bit_identical;

template <typename T>
constexpr double kTolerance = std::is_same_v<T, float> ? 1e-5 : 1e-11;
constexpr double kCudnnTolerance = 1e-4;
constexpr double kEps = 1e-5;

struct Shape {
  int64_t n, c, hw;
};

std::string name(const Shape& s) {
  return "[" + std::to_string(s.n) + ", " + std::to_string(s.c) + ", " + std::to_string(s.hw) + "]";
}

const Shape kShapes[] = {
    {2, 3, 5},   {1, 4, 7},     {5, 3, 1},        {64, 10, 1},  {1, 3, 1},  {3, 5, 13 * 17},
    {4, 1, 49},  {2, 16, 4099}, {16, 3, 56 * 56}, {2, 2100, 49}, {1, 1, 100003}, {3, 2, 4096},
    {7, 3, 12},
};

// A device copy of an optional per-channel vector: null when `present` is false.
template <typename T>
class Optional {
 public:
  Optional(const std::vector<T>& host, bool present) : buffer_(present ? host : std::vector<T>()) {}
  T* get() const { return buffer_.get(); }
  std::vector<T> download() const { return buffer_.download(); }

 private:
  DeviceBuffer<T> buffer_;
};

// The inputs of one case; `variant` picks which optional pointers are null.
template <typename T>
struct Case {
  Shape s;
  bool affine, running_mean, running_var;
  double momentum;
  int64_t offset;  // 1: misaligned buffers (the one-element path)
  std::vector<T> x, dy, gamma, beta, rm, rv;

  Case(const Shape& shape, int variant, uint32_t seed)
      : s(shape),
        affine(variant % 2 == 0),
        running_mean(variant % 3 != 2),
        running_var(variant % 3 == 0),
        momentum(variant % 2 == 0 ? 0.1 : 0.35),
        offset(variant % 4 == 3 ? 1 : 0),
        x(random_values<T>(shape.n * shape.c * shape.hw, seed, -2.0, 3.0)),
        dy(random_values<T>(shape.n * shape.c * shape.hw, seed + 1)),
        gamma(random_values<T>(shape.c, seed + 2, 0.5, 1.5)),
        beta(random_values<T>(shape.c, seed + 3)),
        rm(random_values<T>(shape.c, seed + 4)),
        rv(random_values<T>(shape.c, seed + 5, 0.5, 2.0)) {}

  std::string what(int variant) const {
    return name(s) + " variant " + std::to_string(variant) + (affine ? " affine" : " no affine") +
           (running_mean ? " +running_mean" : "") + (running_var ? " +running_var" : "") +
           (offset ? " misaligned" : "");
  }
  const T* g() const { return affine ? gamma.data() : nullptr; }
  const T* b() const { return affine ? beta.data() : nullptr; }
};

template <typename T>
struct ForwardResult {
  std::vector<T> y, save_mean, save_invstd, running_mean, running_var;
};

template <typename T>
ForwardResult<T> cpu_forward_train(const Case<T>& k) {
  ForwardResult<T> r{std::vector<T>(k.x.size()), std::vector<T>(k.s.c), std::vector<T>(k.s.c), k.rm, k.rv};
  cpu::batch_norm_forward_train(k.x.data(), k.s.n, k.s.c, k.s.hw, k.g(), k.b(), kEps, k.momentum,
                                k.running_mean ? r.running_mean.data() : nullptr,
                                k.running_var ? r.running_var.data() : nullptr, r.y.data(), r.save_mean.data(),
                                r.save_invstd.data());
  return r;
}

// use_cudnn: the vendor variant (float only).
template <typename T>
ForwardResult<T> gpu_forward_train(const Case<T>& k, bool use_cudnn = false) {
  const OffsetBuffer<T> x(k.x, k.offset);
  OffsetBuffer<T> y(std::vector<T>(k.x.size(), T(-7)), k.offset);
  const Optional<T> gamma(k.gamma, k.affine), beta(k.beta, k.affine);
  Optional<T> rm(k.rm, k.running_mean), rv(k.rv, k.running_var);
  DeviceBuffer<T> save_mean(std::vector<T>(k.s.c, T(-7))), save_invstd(std::vector<T>(k.s.c, T(-7)));
  if (use_cudnn) {
    if constexpr (std::is_same_v<T, float>)
      vendor::batch_norm_forward_train(x.get(), k.s.n, k.s.c, k.s.hw, gamma.get(), beta.get(), kEps, k.momentum,
                                       rm.get(), rv.get(), y.get(), save_mean.get(), save_invstd.get(), nullptr);
  } else {
    cuda::batch_norm_forward_train(x.get(), k.s.n, k.s.c, k.s.hw, gamma.get(), beta.get(), kEps, k.momentum, rm.get(),
                                   rv.get(), y.get(), save_mean.get(), save_invstd.get(), nullptr);
  }
  return {y.download(), save_mean.download(), save_invstd.download(), k.running_mean ? rm.download() : k.rm,
          k.running_var ? rv.download() : k.rv};
}

template <typename T>
void expect_forward_close(const ForwardResult<T>& actual, const ForwardResult<T>& expected, double tol,
                          const std::string& what) {
  expect_close(actual.y, expected.y, tol, what + " y");
  expect_close(actual.save_mean, expected.save_mean, tol, what + " save_mean");
  expect_close(actual.save_invstd, expected.save_invstd, tol, what + " save_invstd");
  expect_close(actual.running_mean, expected.running_mean, tol, what + " running_mean");
  expect_close(actual.running_var, expected.running_var, tol, what + " running_var");
}

template <typename T>
struct BackwardResult {
  std::vector<T> dx, dgamma, dbeta;
};

// The backward cases: all gradients, dx alone, dgamma and dbeta alone, dgamma alone.
struct Wanted {
  bool dx, dgamma, dbeta;
};
const Wanted kWanted[] = {{true, true, true}, {true, false, false}, {false, true, true}, {false, true, false}};

// train: given the saved statistics mean/invstd; eval: the running statistics (mean/var).
template <typename T>
BackwardResult<T> cpu_backward(const Case<T>& k, bool train, const std::vector<T>& mean,
                               const std::vector<T>& stat, const Wanted& want) {
  BackwardResult<T> r{std::vector<T>(k.x.size(), T(-7)), std::vector<T>(k.s.c, T(-7)), std::vector<T>(k.s.c, T(-7))};
  T* dx = want.dx ? r.dx.data() : nullptr;
  T* dgamma = want.dgamma ? r.dgamma.data() : nullptr;
  T* dbeta = want.dbeta ? r.dbeta.data() : nullptr;
  if (train) {
    cpu::batch_norm_backward_train(k.dy.data(), k.x.data(), k.s.n, k.s.c, k.s.hw, k.g(), mean.data(), stat.data(), dx,
                                   dgamma, dbeta);
  } else {
    cpu::batch_norm_backward_eval(k.dy.data(), k.x.data(), k.s.n, k.s.c, k.s.hw, k.g(), mean.data(), stat.data(), kEps,
                                  dx, dgamma, dbeta);
  }
  return r;
}

template <typename T>
BackwardResult<T> gpu_backward(const Case<T>& k, bool train, const std::vector<T>& mean_host,
                               const std::vector<T>& stat_host, const Wanted& want, bool use_cudnn = false) {
  const OffsetBuffer<T> x(k.x, k.offset), dy(k.dy, k.offset);
  OffsetBuffer<T> dx(std::vector<T>(k.x.size(), T(-7)), k.offset);
  DeviceBuffer<T> dgamma(std::vector<T>(k.s.c, T(-7))), dbeta(std::vector<T>(k.s.c, T(-7)));
  const DeviceBuffer<T> mean(mean_host), stat(stat_host);
  const Optional<T> gamma(k.gamma, k.affine);
  T* dx_ptr = want.dx ? dx.get() : nullptr;
  T* dgamma_ptr = want.dgamma ? dgamma.get() : nullptr;
  T* dbeta_ptr = want.dbeta ? dbeta.get() : nullptr;
  if (use_cudnn) {
    if constexpr (std::is_same_v<T, float>)
      vendor::batch_norm_backward_train(dy.get(), x.get(), k.s.n, k.s.c, k.s.hw, gamma.get(), mean.get(), stat.get(),
                                        dx_ptr, dgamma_ptr, dbeta_ptr, nullptr);
  } else if (train) {
    cuda::batch_norm_backward_train(dy.get(), x.get(), k.s.n, k.s.c, k.s.hw, gamma.get(), mean.get(), stat.get(),
                                    dx_ptr, dgamma_ptr, dbeta_ptr, nullptr);
  } else {
    cuda::batch_norm_backward_eval(dy.get(), x.get(), k.s.n, k.s.c, k.s.hw, gamma.get(), mean.get(), stat.get(), kEps,
                                   dx_ptr, dgamma_ptr, dbeta_ptr, nullptr);
  }
  return {dx.download(), dgamma.download(), dbeta.download()};
}

template <typename T>
void expect_backward_close(const BackwardResult<T>& actual, const BackwardResult<T>& expected, double tol,
                           const std::string& what) {
  expect_close(actual.dx, expected.dx, tol, what + " dx");
  expect_close(actual.dgamma, expected.dgamma, tol, what + " dgamma");
  expect_close(actual.dbeta, expected.dbeta, tol, what + " dbeta");
}

template <typename T>
class CudaBatchNorm : public ::testing::Test {};
TYPED_TEST_SUITE(CudaBatchNorm, testing::FloatTypes);

TYPED_TEST(CudaBatchNorm, ForwardTrainMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kShapes)
    for (int variant = 0; variant < 4; ++variant) {
      const Case<T> k(s, variant, 10 + variant);
      expect_forward_close(gpu_forward_train(k), cpu_forward_train(k), kTolerance<T>, k.what(variant));
    }
}

TYPED_TEST(CudaBatchNorm, ForwardEvalMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kShapes)
    for (int variant = 0; variant < 4; ++variant) {
      const Case<T> k(s, variant, 20 + variant);
      std::vector<T> expected(k.x.size());
      cpu::batch_norm_forward_eval(k.x.data(), s.n, s.c, s.hw, k.g(), k.b(), k.rm.data(), k.rv.data(), kEps,
                                   expected.data());
      const OffsetBuffer<T> x(k.x, k.offset);
      OffsetBuffer<T> y(std::vector<T>(k.x.size(), T(-7)), k.offset);
      const Optional<T> gamma(k.gamma, k.affine), beta(k.beta, k.affine);
      const DeviceBuffer<T> rm(k.rm), rv(k.rv);
      cuda::batch_norm_forward_eval(x.get(), s.n, s.c, s.hw, gamma.get(), beta.get(), rm.get(), rv.get(), kEps, y.get(),
                                    nullptr);
      expect_close(y.download(), expected, kTolerance<T>, k.what(variant) + " y");
    }
}

TYPED_TEST(CudaBatchNorm, BackwardTrainMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kShapes)
    for (int variant = 0; variant < 4; ++variant) {
      const Case<T> k(s, variant, 30 + variant);
      const ForwardResult<T> saved = cpu_forward_train(k);
      const Wanted& want = kWanted[variant];
      expect_backward_close(gpu_backward(k, true, saved.save_mean, saved.save_invstd, want),
                            cpu_backward(k, true, saved.save_mean, saved.save_invstd, want), kTolerance<T>,
                            k.what(variant));
    }
}

TYPED_TEST(CudaBatchNorm, BackwardEvalMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kShapes)
    for (int variant = 0; variant < 4; ++variant) {
      const Case<T> k(s, variant, 40 + variant);
      const Wanted& want = kWanted[(variant + 1) % 4];
      expect_backward_close(gpu_backward(k, false, k.rm, k.rv, want), cpu_backward(k, false, k.rm, k.rv, want),
                            kTolerance<T>, k.what(variant));
    }
}

// Channels whose values sit far from zero (mean 1000, spread 1): the variance must not cancel.
TYPED_TEST(CudaBatchNorm, VarianceStaysAccurateForLargeMeans) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  Case<T> k({8, 3, 3136}, 0, 50);
  for (T& v : k.x) v += T(1000);
  expect_forward_close(gpu_forward_train(k), cpu_forward_train(k), kTolerance<T>, "mean 1000");
}

// As the CPU twins: NaN statistics for an empty batch, zero dgamma/dbeta.
TYPED_TEST(CudaBatchNorm, EmptyBatchMatchesCpuTwin) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : {Shape{0, 3, 5}, Shape{4, 3, 0}}) {
    const Case<T> k(s, 0, 60);
    expect_forward_close(gpu_forward_train(k), cpu_forward_train(k), 0, name(s));
    const std::vector<T> mean(s.c, T(0.5)), invstd(s.c, T(2));
    expect_backward_close(gpu_backward(k, true, mean, invstd, kWanted[0]),
                          cpu_backward(k, true, mean, invstd, kWanted[0]), 0, name(s));
  }
}

TYPED_TEST(CudaBatchNorm, RepeatsBitForBit) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : {Shape{16, 3, 56 * 56}, Shape{2, 2100, 49}, Shape{1, 1, 100003}}) {
    const Case<T> k(s, 0, 70);
    const ForwardResult<T> first = gpu_forward_train(k), second = gpu_forward_train(k);
    EXPECT_TRUE(bit_identical(first.y, second.y) && bit_identical(first.save_mean, second.save_mean) &&
                bit_identical(first.save_invstd, second.save_invstd) &&
                bit_identical(first.running_var, second.running_var))
        << name(s);
    const BackwardResult<T> a = gpu_backward(k, true, first.save_mean, first.save_invstd, kWanted[0]);
    const BackwardResult<T> b = gpu_backward(k, true, first.save_mean, first.save_invstd, kWanted[0]);
    EXPECT_TRUE(bit_identical(a.dx, b.dx) && bit_identical(a.dgamma, b.dgamma) && bit_identical(a.dbeta, b.dbeta))
        << name(s);
  }
}

TYPED_TEST(CudaBatchNorm, RejectsBadArguments) {
  using T = TypeParam;
  GRAFT_REQUIRE_GPU();
  DeviceBuffer<T> buf(std::vector<T>(12, T(1)));
  T* p = buf.get();
  EXPECT_THROW(cuda::batch_norm_forward_train<T>(p, -1, 3, 4, p, p, kEps, 0.1, p, p, p, p, p, nullptr),
               std::invalid_argument);
  EXPECT_THROW(cuda::batch_norm_forward_train<T>(p, 1, 3, 4, p, p, kEps, 0.1, p, p, p, nullptr, p, nullptr),
               std::invalid_argument);
  EXPECT_THROW(cuda::batch_norm_forward_train<T>(nullptr, 1, 3, 4, p, p, kEps, 0.1, p, p, p, p, p, nullptr),
               std::invalid_argument);
  EXPECT_THROW(cuda::batch_norm_forward_eval<T>(p, 1, 3, 4, p, p, p, nullptr, kEps, p, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::batch_norm_backward_train<T>(p, p, 1, 3, 4, p, nullptr, p, p, p, p, nullptr),
               std::invalid_argument);
  EXPECT_THROW(cuda::batch_norm_backward_eval<T>(nullptr, p, 1, 3, 4, p, p, p, kEps, p, p, p, nullptr),
               std::invalid_argument);
  EXPECT_EQ(buf.download(), std::vector<T>(12, T(1)));  // nothing ran
  // No channels: nothing to do, whatever the pointers.
  EXPECT_NO_THROW(cuda::batch_norm_forward_train<T>(nullptr, 2, 0, 4, nullptr, nullptr, kEps, 0.1, nullptr, nullptr,
                                                    nullptr, nullptr, nullptr, nullptr));
}

// ---- the cuDNN baseline ----

const Shape kCudnnShapes[] = {{2, 3, 5}, {64, 10, 1}, {4, 16, 49}, {3, 5, 13 * 17}, {16, 3, 56 * 56}, {2, 2100, 49}};

TEST(CudaBatchNorm, CudnnForwardTrainMatchesCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kCudnnShapes)
    for (int variant = 0; variant < 4; ++variant) {
      const Case<float> k(s, variant, 80 + variant);
      expect_forward_close(gpu_forward_train(k, true), cpu_forward_train(k), kCudnnTolerance,
                           "cuDNN " + k.what(variant));
    }
}

TEST(CudaBatchNorm, CudnnForwardEvalMatchesCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kCudnnShapes)
    for (int variant = 0; variant < 4; ++variant) {
      const Case<float> k(s, variant, 90 + variant);
      std::vector<float> expected(k.x.size());
      cpu::batch_norm_forward_eval(k.x.data(), s.n, s.c, s.hw, k.g(), k.b(), k.rm.data(), k.rv.data(), kEps,
                                   expected.data());
      const DeviceBuffer<float> x(k.x), rm(k.rm), rv(k.rv);
      DeviceBuffer<float> y(k.x.size());
      const Optional<float> gamma(k.gamma, k.affine), beta(k.beta, k.affine);
      vendor::batch_norm_forward_eval(x.get(), s.n, s.c, s.hw, gamma.get(), beta.get(), rm.get(), rv.get(), kEps,
                                      y.get(), nullptr);
      expect_close(y.download(), expected, kCudnnTolerance, "cuDNN " + k.what(variant) + " y");
    }
}

TEST(CudaBatchNorm, CudnnBackwardTrainMatchesCpuTwin) {
  GRAFT_REQUIRE_GPU();
  for (const Shape& s : kCudnnShapes)
    for (int variant = 0; variant < 4; ++variant) {
      const Case<float> k(s, variant, 100 + variant);
      const ForwardResult<float> saved = cpu_forward_train(k);
      const Wanted& want = kWanted[variant];
      expect_backward_close(gpu_backward(k, true, saved.save_mean, saved.save_invstd, want, true),
                            cpu_backward(k, true, saved.save_mean, saved.save_invstd, want), kCudnnTolerance,
                            "cuDNN " + k.what(variant));
    }
}

}  // namespace
}  // namespace graft::kernels
