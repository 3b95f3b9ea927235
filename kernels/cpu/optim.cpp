#include "kernels/optim.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/optim_constants.h"

// std::fma marks each place where torch's CPU kernels fuse a multiply and an add; everywhere else
// the products and sums are rounded separately: CMakeLists.txt compiles this file with
// -ffp-contract=off, so the compiler adds no fusions of its own (and with -fno-math-errno, so that
// the loops with a sqrt vectorize).

namespace graft::kernels::cpu {
namespace {

using namespace optim_detail;

constexpr int64_t kGrain = 32768;  // elements per thread chunk, as for the elementwise kernels

// torch.maximum: NaN in either operand gives NaN.
template <typename T>
T nan_propagating_max(T a, T b) {
  return (a > b || a != a) ? a : b;
}

template <typename T, bool kDecay, bool kMomentum, bool kFirstStep, bool kNesterov>
void sgd_loop(int64_t n, T* param, const T* grad, T* momentum_buffer, const SgdConstants<T> c) {
  parallel_for(0, n, kGrain, [&, c](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      T d = kDecay ? std::fma(param[i], c.weight_decay, grad[i]) : grad[i];
      if constexpr (kMomentum) {
        const T buf = kFirstStep ? d : std::fma(d, c.one_minus_dampening, momentum_buffer[i] * c.momentum);
        momentum_buffer[i] = buf;
        d = kNesterov ? std::fma(buf, c.momentum, d) : buf;
      }
      param[i] = std::fma(d, c.minus_lr, param[i]);
    }
  });
}

template <typename T, bool kCoupledDecay, bool kAmsgrad>
void adam_loop(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
               const AdamConstants<T> c, const AdamStepConstants<T> s) {
  parallel_for(0, n, kGrain, [&, c, s](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const T g = kCoupledDecay ? std::fma(param[i], c.weight_decay, grad[i]) : grad[i];
      const T p = param[i] * c.decoupled_decay_factor;
      const T m = std::fma(g, c.one_minus_beta1, exp_avg[i] * c.beta1);
      const T v = std::fma(c.one_minus_beta2 * g, g, exp_avg_sq[i] * c.beta2);
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      T second_moment = v;
      if constexpr (kAmsgrad) {
        second_moment = nan_propagating_max(max_exp_avg_sq[i], v);
        max_exp_avg_sq[i] = second_moment;
      }
      const T denom = std::sqrt(second_moment) / s.bias_correction2_sqrt + c.eps;
      param[i] = p + s.minus_step_size * m / denom;
    }
  });
}

}  // namespace

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buffer, bool first_step,
                const SgdHyperparameters& h) {
  const SgdConstants<T> c = sgd_constants<T>(h);
  with_constant_flags(std::array{h.weight_decay != 0, h.momentum != 0, first_step, h.nesterov},
                      [&]<bool kDecay, bool kMomentum, bool kFirstStep, bool kNesterov>() {
                        sgd_loop<T, kDecay, kMomentum, kFirstStep, kNesterov>(n, param, grad, momentum_buffer, c);
                      });
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                 int64_t step, const AdamHyperparameters& h) {
  const AdamConstants<T> c = adam_constants<T>(h);
  const AdamStepConstants<T> s = adam_step_constants<T>(h, step);
  const bool coupled_decay = !h.decoupled_weight_decay && h.weight_decay != 0;
  with_constant_flags(std::array{coupled_decay, h.amsgrad}, [&]<bool kCoupledDecay, bool kAmsgrad>() {
    adam_loop<T, kCoupledDecay, kAmsgrad>(n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, c, s);
  });
}

template <typename T>
double sum_of_squares(const T* x, int64_t n) {
  constexpr int64_t kBlock = 16384;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
  parallel_for(0, blocks, 4, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      const int64_t begin = b * kBlock, end = std::min(n, begin + kBlock);
      double sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = begin; i < end; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      partial[b] = sum;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

template <typename T>
void scale_in_place(T* x, int64_t n, T factor) {
  parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) x[i] *= factor;
  });
}

#define GRAFT_INSTANTIATE(T)                                                                        \
  template void sgd_update<T>(int64_t, T*, const T*, T*, bool, const SgdHyperparameters&);          \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, T*, int64_t, const AdamHyperparameters&); \
  template double sum_of_squares<T>(const T*, int64_t);                                             \
  template void scale_in_place<T>(T*, int64_t, T);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
#undef GRAFT_INSTANTIATE

}  // namespace graft::kernels::cpu
