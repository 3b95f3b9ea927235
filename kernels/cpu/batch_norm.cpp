#include "kernels/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"

// Work is split over channels; each channel's sums run serially in double in a fixed order, so
// results do not depend on the thread count. Inner loops run over one contiguous [hw] run.

namespace graft::kernels::cpu {
namespace {

// Channels per thread chunk: enough that a chunk touches about this many elements.
constexpr int64_t kGrainElements = 32768;

template <typename Fn>
void for_each_channel(int64_t n, int64_t c, int64_t hw, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, n * hw));
  parallel_for(0, c, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ++ch) fn(ch);
  });
}

template <typename T>
double channel_sum(const T* x, int64_t n, int64_t c, int64_t hw, int64_t ch) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* p = x + (i * c + ch) * hw;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < hw; ++k) sum += p[k];
  }
  return sum;
}

// Sum of (x - mean)^2 over one channel.
template <typename T>
double channel_squared_deviation(const T* x, int64_t n, int64_t c, int64_t hw, int64_t ch, double mean) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* p = x + (i * c + ch) * hw;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < hw; ++k) {
      const double d = p[k] - mean;
      sum += d * d;
    }
  }
  return sum;
}

// Sums of dy and of dy * (x - mean) over one channel: the two reductions every backward needs.
template <typename T>
void channel_grad_sums(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw, int64_t ch,
                       double mean, double& sum_dy, double& sum_dy_xmu) {
  double s = 0, dot = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t offset = (i * c + ch) * hw;
    const T* g = dy + offset;
    const T* p = x + offset;
#pragma omp simd reduction(+ : s, dot)
    for (int64_t k = 0; k < hw; ++k) {
      s += g[k];
      dot += g[k] * (p[k] - mean);
    }
  }
  sum_dy = s;
  sum_dy_xmu = dot;
}

// y = (x - mean) * scale + shift over one channel.
template <typename T>
void channel_normalize(const T* x, int64_t n, int64_t c, int64_t hw, int64_t ch, T mean, T scale,
                       T shift, T* y) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t offset = (i * c + ch) * hw;
    const T* p = x + offset;
    T* q = y + offset;
#pragma omp simd
    for (int64_t k = 0; k < hw; ++k) q[k] = (p[k] - mean) * scale + shift;
  }
}

}  // namespace

template <typename T>
void batch_norm_forward_train(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                              const T* beta, double eps, double momentum, T* running_mean,
                              T* running_var, T* y, T* save_mean, T* save_invstd) {
  const int64_t count = n * hw;
  for_each_channel(n, c, hw, [&](int64_t ch) {
    const double mean = channel_sum(x, n, c, hw, ch) / count;
    const double squared_deviation = channel_squared_deviation(x, n, c, hw, ch, mean);
    const double invstd = 1.0 / std::sqrt(squared_deviation / count + eps);
    save_mean[ch] = T(mean);
    save_invstd[ch] = T(invstd);
    if (running_mean) running_mean[ch] = T((1 - momentum) * running_mean[ch] + momentum * mean);
    if (running_var) {
      const double unbiased_var = squared_deviation / (count - 1);
      running_var[ch] = T((1 - momentum) * running_var[ch] + momentum * unbiased_var);
    }
    const double g = gamma ? double(gamma[ch]) : 1.0;
    channel_normalize(x, n, c, hw, ch, T(mean), T(g * invstd), beta ? beta[ch] : T(0), y);
  });
}

template <typename T>
void batch_norm_forward_eval(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                             const T* beta, const T* running_mean, const T* running_var,
                             double eps, T* y) {
  for_each_channel(n, c, hw, [&](int64_t ch) {
    const double invstd = 1.0 / std::sqrt(double(running_var[ch]) + eps);
    const double g = gamma ? double(gamma[ch]) : 1.0;
    channel_normalize(x, n, c, hw, ch, running_mean[ch], T(g * invstd), beta ? beta[ch] : T(0), y);
  });
}

template <typename T>
void batch_norm_backward_train(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw,
                               const T* gamma, const T* save_mean, const T* save_invstd, T* dx,
                               T* dgamma, T* dbeta) {
  const int64_t count = n * hw;
  for_each_channel(n, c, hw, [&](int64_t ch) {
    const double mean = save_mean[ch];
    const double invstd = save_invstd[ch];
    double sum_dy = 0, sum_dy_xmu = 0;
    channel_grad_sums(dy, x, n, c, hw, ch, mean, sum_dy, sum_dy_xmu);
    if (dbeta) dbeta[ch] = T(sum_dy);
    if (dgamma) dgamma[ch] = T(sum_dy_xmu * invstd);
    if (!dx) return;
    // dx = gamma * invstd * (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * (x - mean)))
    const T dy_mean = T(sum_dy / count);
    const T xmu_coef = T(sum_dy_xmu / count * invstd * invstd);
    const T scale = T((gamma ? double(gamma[ch]) : 1.0) * invstd);
    const T m = T(mean);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t offset = (i * c + ch) * hw;
      const T* g = dy + offset;
      const T* p = x + offset;
      T* q = dx + offset;
#pragma omp simd
      for (int64_t k = 0; k < hw; ++k) q[k] = (g[k] - dy_mean - (p[k] - m) * xmu_coef) * scale;
    }
  });
}

template <typename T>
void batch_norm_backward_eval(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw,
                              const T* gamma, const T* running_mean, const T* running_var,
                              double eps, T* dx, T* dgamma, T* dbeta) {
  for_each_channel(n, c, hw, [&](int64_t ch) {
    const double invstd = 1.0 / std::sqrt(double(running_var[ch]) + eps);
    if (dgamma || dbeta) {
      double sum_dy = 0, sum_dy_xmu = 0;
      channel_grad_sums(dy, x, n, c, hw, ch, double(running_mean[ch]), sum_dy, sum_dy_xmu);
      if (dbeta) dbeta[ch] = T(sum_dy);
      if (dgamma) dgamma[ch] = T(sum_dy_xmu * invstd);
    }
    if (!dx) return;
    const T scale = T((gamma ? double(gamma[ch]) : 1.0) * invstd);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t offset = (i * c + ch) * hw;
      const T* g = dy + offset;
      T* q = dx + offset;
#pragma omp simd
      for (int64_t k = 0; k < hw; ++k) q[k] = g[k] * scale;
    }
  });
}

#define GRAFT_INSTANTIATE(T)                                                                      \
  template void batch_norm_forward_train<T>(const T*, int64_t, int64_t, int64_t, const T*,        \
                                            const T*, double, double, T*, T*, T*, T*, T*);        \
  template void batch_norm_forward_eval<T>(const T*, int64_t, int64_t, int64_t, const T*,         \
                                           const T*, const T*, const T*, double, T*);             \
  template void batch_norm_backward_train<T>(const T*, const T*, int64_t, int64_t, int64_t,       \
                                             const T*, const T*, const T*, T*, T*, T*);           \
  template void batch_norm_backward_eval<T>(const T*, const T*, int64_t, int64_t, int64_t,        \
                                            const T*, const T*, const T*, double, T*, T*, T*);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
#undef GRAFT_INSTANTIATE

}  // namespace graft::kernels::cpu
