#include "kernels/batch_norm.h"

#include <cmath>
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
using testing::wave;

// Per-channel mean and biased variance, straight from the definition, in double.
template <typename T>
void naive_stats(const std::vector<T>& x, int64_t n, int64_t c, int64_t hw, std::vector<double>& mean,
                 std::vector<double>& var) {
  mean.assign(c, 0.0);
  var.assign(c, 0.0);
  const double count = double(n * hw);
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) mean[ch] += x[(i * c + ch) * hw + k];
    mean[ch] /= count;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const double d = x[(i * c + ch) * hw + k] - mean[ch];
        var[ch] += d * d;
      }
    var[ch] /= count;
  }
}

// y = (x - mean) / sqrt(var + eps) * gamma + beta with the given statistics.
template <typename T>
std::vector<double> naive_normalize(const std::vector<T>& x, int64_t n, int64_t c, int64_t hw,
                                    const std::vector<double>& mean, const std::vector<double>& var,
                                    double eps, const T* gamma, const T* beta) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < hw; ++k) {
        const int64_t j = (i * c + ch) * hw + k;
        y[j] = (x[j] - mean[ch]) / std::sqrt(var[ch] + eps) * (gamma ? gamma[ch] : 1.0) + (beta ? beta[ch] : 0.0);
      }
  return y;
}

// Gradients of the training-mode transform, written out from the chain rule through mean and var:
// with xhat = (x - mean) * invstd,
//   dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)).
template <typename T>
void naive_backward_train(const std::vector<T>& dy, const std::vector<T>& x, int64_t n, int64_t c,
                          int64_t hw, const T* gamma, double eps, std::vector<double>& dx,
                          std::vector<double>& dgamma, std::vector<double>& dbeta) {
  std::vector<double> mean, var;
  naive_stats(x, n, c, hw, mean, var);
  const double count = double(n * hw);
  dx.assign(x.size(), 0.0);
  dgamma.assign(c, 0.0);
  dbeta.assign(c, 0.0);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double invstd = 1.0 / std::sqrt(var[ch] + eps);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const int64_t j = (i * c + ch) * hw + k;
        dbeta[ch] += dy[j];
        dgamma[ch] += dy[j] * (x[j] - mean[ch]) * invstd;
      }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const int64_t j = (i * c + ch) * hw + k;
        const double xhat = (x[j] - mean[ch]) * invstd;
        dx[j] = (gamma ? gamma[ch] : 1.0) * invstd * (dy[j] - dbeta[ch] / count - xhat * dgamma[ch] / count);
      }
  }
}

template <typename T>
class BatchNormKernelTest : public ::testing::Test {};
TYPED_TEST_SUITE(BatchNormKernelTest, testing::FloatTypes);

struct Shape {
  int64_t n, c, hw;
};

// Odd sizes, batch 1, 1x1 planes ([N, C] inputs) and a case big enough to use two threads.
const Shape kShapes[] = {{2, 3, 5}, {1, 4, 7}, {5, 3, 1}, {3, 5, 13}, {1, 1, 2}, {4, 16, 4099}};

TYPED_TEST(BatchNormKernelTest, ForwardTrainMatchesNaive) {
  using T = TypeParam;
  const double eps = 1e-5, momentum = 0.1;
  for (const Shape& s : kShapes) {
    for (bool affine : {true, false}) {
      const auto x = random_values<T>(s.n * s.c * s.hw, 1, -2.0, 3.0);
      const auto gamma = random_values<T>(s.c, 2, 0.5, 1.5);
      const auto beta = random_values<T>(s.c, 3);
      const T* g = affine ? gamma.data() : nullptr;
      const T* b = affine ? beta.data() : nullptr;
      std::vector<T> y(x.size()), save_mean(s.c), save_invstd(s.c);
      std::vector<T> running_mean(s.c, T(0.5)), running_var(s.c, T(2));
      cpu::batch_norm_forward_train(x.data(), s.n, s.c, s.hw, g, b, eps, momentum, running_mean.data(),
                                    running_var.data(), y.data(), save_mean.data(), save_invstd.data());

      std::vector<double> mean, var, invstd(s.c), rm(s.c), rv(s.c);
      naive_stats(x, s.n, s.c, s.hw, mean, var);
      const double count = double(s.n * s.hw);
      for (int64_t ch = 0; ch < s.c; ++ch) {
        invstd[ch] = 1.0 / std::sqrt(var[ch] + eps);
        rm[ch] = 0.9 * 0.5 + 0.1 * mean[ch];
        rv[ch] = 0.9 * 2.0 + 0.1 * var[ch] * count / (count - 1);
      }
      const std::string what = std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.hw);
      expect_close(y, naive_normalize(x, s.n, s.c, s.hw, mean, var, eps, g, b), 4 * tolerance<T>(), what + " y");
      expect_close(save_mean, mean, tolerance<T>(), what + " mean");
      expect_close(save_invstd, invstd, tolerance<T>(), what + " invstd");
      expect_close(running_mean, rm, tolerance<T>(), what + " running_mean");
      expect_close(running_var, rv, tolerance<T>(), what + " running_var");
    }
  }
}

TYPED_TEST(BatchNormKernelTest, ForwardTrainWithoutRunningStats) {
  using T = TypeParam;
  const auto x = random_values<T>(2 * 3 * 4, 4);
  std::vector<T> y(x.size()), save_mean(3), save_invstd(3);
  cpu::batch_norm_forward_train<T>(x.data(), 2, 3, 4, nullptr, nullptr, 1e-5, 0.1, nullptr, nullptr,
                                   y.data(), save_mean.data(), save_invstd.data());
  std::vector<double> mean, var;
  naive_stats(x, 2, 3, 4, mean, var);
  expect_close(y, naive_normalize(x, 2, 3, 4, mean, var, 1e-5, (const T*)nullptr, (const T*)nullptr),
               4 * tolerance<T>());
}

TYPED_TEST(BatchNormKernelTest, BackwardTrainMatchesNaive) {
  using T = TypeParam;
  const double eps = 1e-5;
  for (const Shape& s : kShapes) {
    for (bool affine : {true, false}) {
      const auto x = random_values<T>(s.n * s.c * s.hw, 5, -2.0, 3.0);
      const auto dy = random_values<T>(x.size(), 6);
      const auto gamma = random_values<T>(s.c, 7, 0.5, 1.5);
      const T* g = affine ? gamma.data() : nullptr;
      std::vector<T> y(x.size()), save_mean(s.c), save_invstd(s.c);
      cpu::batch_norm_forward_train<T>(x.data(), s.n, s.c, s.hw, g, nullptr, eps, 0.1, nullptr,
                                       nullptr, y.data(), save_mean.data(), save_invstd.data());
      std::vector<T> dx(x.size()), dgamma(s.c), dbeta(s.c);
      cpu::batch_norm_backward_train(dy.data(), x.data(), s.n, s.c, s.hw, g, save_mean.data(),
                                     save_invstd.data(), dx.data(), dgamma.data(), dbeta.data());
      std::vector<double> ndx, ndgamma, ndbeta;
      naive_backward_train(dy, x, s.n, s.c, s.hw, g, eps, ndx, ndgamma, ndbeta);
      // A channel of 2 values normalizes to +-1 exactly: its dx is pure cancellation.
      const double tol = (s.n * s.hw <= 2 ? 100 : 20) * tolerance<T>();
      const std::string what = std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.hw);
      expect_close(dx, ndx, tol, what + " dx");
      expect_close(dgamma, ndgamma, tol, what + " dgamma");
      expect_close(dbeta, ndbeta, tol, what + " dbeta");
    }
  }
}

TYPED_TEST(BatchNormKernelTest, BackwardSkipsNullOutputs) {
  using T = TypeParam;
  const auto x = random_values<T>(2 * 3 * 4, 8);
  const auto dy = random_values<T>(x.size(), 9);
  std::vector<T> y(x.size()), save_mean(3), save_invstd(3), dx(x.size()), dbeta(3);
  cpu::batch_norm_forward_train<T>(x.data(), 2, 3, 4, nullptr, nullptr, 1e-5, 0.1, nullptr, nullptr,
                                   y.data(), save_mean.data(), save_invstd.data());
  cpu::batch_norm_backward_train<T>(dy.data(), x.data(), 2, 3, 4, nullptr, save_mean.data(),
                                    save_invstd.data(), nullptr, nullptr, dbeta.data());
  cpu::batch_norm_backward_train<T>(dy.data(), x.data(), 2, 3, 4, nullptr, save_mean.data(),
                                    save_invstd.data(), dx.data(), nullptr, nullptr);
  std::vector<double> ndx, ndgamma, ndbeta;
  naive_backward_train(dy, x, 2, 3, 4, (const T*)nullptr, 1e-5, ndx, ndgamma, ndbeta);
  expect_close(dbeta, ndbeta, 10 * tolerance<T>());
  expect_close(dx, ndx, 20 * tolerance<T>());
}

TYPED_TEST(BatchNormKernelTest, EvalMatchesNaive) {
  using T = TypeParam;
  const double eps = 1e-3;
  for (const Shape& s : kShapes) {
    const auto x = random_values<T>(s.n * s.c * s.hw, 10, -2.0, 3.0);
    const auto dy = random_values<T>(x.size(), 11);
    const auto gamma = random_values<T>(s.c, 12, 0.5, 1.5);
    const auto beta = random_values<T>(s.c, 13);
    const auto running_mean = random_values<T>(s.c, 14);
    const auto running_var = random_values<T>(s.c, 15, 0.5, 2.0);
    std::vector<T> y(x.size()), dx(x.size()), dgamma(s.c), dbeta(s.c);
    cpu::batch_norm_forward_eval(x.data(), s.n, s.c, s.hw, gamma.data(), beta.data(), running_mean.data(),
                                 running_var.data(), eps, y.data());
    cpu::batch_norm_backward_eval(dy.data(), x.data(), s.n, s.c, s.hw, gamma.data(), running_mean.data(),
                                  running_var.data(), eps, dx.data(), dgamma.data(), dbeta.data());
    const std::vector<double> mean(running_mean.begin(), running_mean.end());
    const std::vector<double> var(running_var.begin(), running_var.end());
    std::vector<double> ndx(x.size()), ndgamma(s.c, 0.0), ndbeta(s.c, 0.0);
    for (int64_t i = 0; i < s.n; ++i)
      for (int64_t ch = 0; ch < s.c; ++ch)
        for (int64_t k = 0; k < s.hw; ++k) {
          const int64_t j = (i * s.c + ch) * s.hw + k;
          const double invstd = 1.0 / std::sqrt(var[ch] + eps);
          ndx[j] = dy[j] * gamma[ch] * invstd;
          ndgamma[ch] += dy[j] * (x[j] - mean[ch]) * invstd;
          ndbeta[ch] += dy[j];
        }
    expect_close(y, naive_normalize(x, s.n, s.c, s.hw, mean, var, eps, gamma.data(), beta.data()),
                 4 * tolerance<T>(), "y");
    expect_close(dx, ndx, 4 * tolerance<T>(), "dx");
    expect_close(dgamma, ndgamma, 20 * tolerance<T>(), "dgamma");
    expect_close(dbeta, ndbeta, 20 * tolerance<T>(), "dbeta");
  }
}

// Reference numbers from torch 1.13: F.batch_norm on x = 2 sin(0.7 i + 0.3) shaped [2, 3, 2, 2],
// gamma = [0.5, -1.5, 2], beta = [0.1, 0.2, -0.3], running_mean = [0.5, -0.5, 1],
// running_var = [2, 0.5, 1], momentum 0.1, eps 1e-5, then backward of dy = sin(1.3 i + 0.5).
constexpr int64_t kN = 2, kC = 3, kHW = 4;
const std::vector<double> kGamma = {0.5, -1.5, 2.0}, kBeta = {0.1, 0.2, -0.3};
const std::vector<double> kRunningMean = {0.5, -0.5, 1.0}, kRunningVar = {2.0, 0.5, 1.0};

TYPED_TEST(BatchNormKernelTest, TrainMatchesTorch) {
  using T = TypeParam;
  const auto x = wave<T>(24, 0.7, 0.3, 2.0);
  const auto dy = wave<T>(24, 1.3, 0.5);
  const std::vector<T> gamma(kGamma.begin(), kGamma.end()), beta(kBeta.begin(), kBeta.end());
  std::vector<T> rm(kRunningMean.begin(), kRunningMean.end()), rv(kRunningVar.begin(), kRunningVar.end());
  std::vector<T> y(24), save_mean(kC), save_invstd(kC), dx(24), dgamma(kC), dbeta(kC);
  cpu::batch_norm_forward_train(x.data(), kN, kC, kHW, gamma.data(), beta.data(), 1e-5, 0.1, rm.data(),
                                rv.data(), y.data(), save_mean.data(), save_invstd.data());
  cpu::batch_norm_backward_train(dy.data(), x.data(), kN, kC, kHW, gamma.data(), save_mean.data(),
                                 save_invstd.data(), dx.data(), dgamma.data(), dbeta.data());
  const double tol = 1e-9 + 10 * tolerance<T>();
  expect_close(y, std::vector<double>{0.144665204, 0.552522424, 0.664726012, 0.4285048673, -0.6487944821,
                                      0.9297025936, 1.813048912, 1.585792897, -2.752100744, -0.4239957428,
                                      1.406426994, 1.878291052, 0.4191711543, -0.05759701126, -0.543070105,
                                      -0.8089225453, 1.566461481, 0.3170175675, -1.339421762, -2.623807208,
                                      1.869506432, 0.7265975211, -1.455135645, -3.649589867},
               tol, "y");
  expect_close(rm, std::vector<double>{0.497146424, -0.5119576801, 0.9696093968}, tol, "running_mean");
  expect_close(rv, std::vector<double>{2.004776536, 0.6262599272, 1.05849469}, tol, "running_var (unbiased)");
  expect_close(dx, std::vector<double>{0.1866247404, 0.4114117663, 0.07421607509, -0.3199951454, 0.4279220537,
                                       -0.583015793, -0.6286017346, 0.6071747888, -0.1656433669, -0.5493140829,
                                       0.2716558175, -0.05182294389, -0.1081765735, -0.3831311866, -0.1157374319,
                                       0.2547877556, -0.3787710228, 0.7275261636, 0.7063654606, -0.8785999165,
                                       0.2782646892, 0.1103181949, -0.5399499101, 0.6464916024},
               tol, "dx");
  expect_close(dgamma, std::vector<double>{-1.053016854, -2.818058908, 5.93182985}, tol, "dgamma");
  expect_close(dbeta, std::vector<double>{-0.06753281472, 0.02344964047, 0.0895059097}, tol, "dbeta");
}

// The same tensors through the evaluation path, with the running statistics after the update
// above (torch: F.batch_norm(training=False) and its backward).
TYPED_TEST(BatchNormKernelTest, EvalMatchesTorch) {
  using T = TypeParam;
  const auto x = wave<T>(24, 0.7, 0.3, 2.0);
  const auto dy = wave<T>(24, 1.3, 0.5);
  const std::vector<T> gamma(kGamma.begin(), kGamma.end()), beta(kBeta.begin(), kBeta.end());
  const std::vector<T> rm = {T(0.497146424), T(-0.5119576801), T(0.9696093968)};
  const std::vector<T> rv = {T(2.004776536), T(0.6262599272), T(1.05849469)};
  std::vector<T> y(24), dx(24), dgamma(kC), dbeta(kC);
  cpu::batch_norm_forward_eval(x.data(), kN, kC, kHW, gamma.data(), beta.data(), rm.data(), rv.data(), 1e-5,
                               y.data());
  cpu::batch_norm_backward_eval(dy.data(), x.data(), kN, kC, kHW, gamma.data(), rm.data(), rv.data(), 1e-5,
                                dx.data(), dgamma.data(), dbeta.data());
  const double tol = 1e-8 + 10 * tolerance<T>();
  expect_close(y, std::vector<double>{0.1331568853, 0.5187412551, 0.6248174692, 0.4014962266, -0.9280135063,
                                      1.549096139, 2.93531707, 2.578687923, -3.638455834, -0.9736282117,
                                      1.12153548, 1.661647019, 0.3926722222, -0.05805990564, -0.5170215906,
                                      -0.7683559807, 2.548351447, 0.5876195478, -2.011803601, -4.027368676,
                                      1.651591846, 0.3433797025, -2.153905773, -4.665752199},
               tol, "y");
  expect_close(dx, std::vector<double>{0.1693000556, 0.3438958603, 0.014683424, -0.3360402628, 1.043792459,
                                       -1.245279937, -1.710014308, 0.330426288, -1.935071675, -0.6963774272,
                                       1.562511382, 1.532317356, -0.1349212901, -0.3505388736, -0.05261618608,
                                       0.3223893373, -1.208197506, 1.084051859, 1.788162711, -0.1273889977,
                                       1.903815767, 0.8878882904, -1.428797612, -1.652291666},
               tol, "dx");
  expect_close(dgamma, std::vector<double>{-0.9942872697, -4.425522685, 6.76597773}, tol, "dgamma");
  expect_close(dbeta, std::vector<double>{-0.06753281472, 0.02344964047, 0.0895059097}, tol, "dbeta");
}

TYPED_TEST(BatchNormKernelTest, ThreadCountDoesNotChangeResults) {
  using T = TypeParam;
  const int64_t n = 4, c = 16, hw = 4099;
  const auto x = random_values<T>(n * c * hw, 16, -2.0, 3.0);
  const auto dy = random_values<T>(x.size(), 17);
  const auto gamma = random_values<T>(c, 18, 0.5, 1.5);
  const auto beta = random_values<T>(c, 19);
  std::vector<T> outputs[2];
  for (int threads : {1, 2}) {
    ThreadCount scope(threads);
    std::vector<T> y(x.size()), save_mean(c), save_invstd(c), rm(c, T(0)), rv(c, T(1));
    std::vector<T> dx(x.size()), dgamma(c), dbeta(c);
    cpu::batch_norm_forward_train(x.data(), n, c, hw, gamma.data(), beta.data(), 1e-5, 0.1, rm.data(), rv.data(),
                                  y.data(), save_mean.data(), save_invstd.data());
    cpu::batch_norm_backward_train(dy.data(), x.data(), n, c, hw, gamma.data(), save_mean.data(),
                                   save_invstd.data(), dx.data(), dgamma.data(), dbeta.data());
    std::vector<T>& all = outputs[threads - 1];
    for (const auto* v : {&y, &save_mean, &save_invstd, &rm, &rv, &dx, &dgamma, &dbeta})
      all.insert(all.end(), v->begin(), v->end());
  }
  EXPECT_TRUE(bit_identical(outputs[0], outputs[1]));
}

}  // namespace
}  // namespace graft::kernels
