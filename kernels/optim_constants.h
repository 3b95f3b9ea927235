#pragma once
// What the CPU and CUDA optimizer kernels share (kernels/cpu/optim.cpp, kernels/cuda/optim.cu): the
// hyperparameters rounded to the parameter's type T once per call, with the same expressions on
// both sides so that both round them identically, and the dispatch of run-time option flags to
// template arguments. Both files are compiled without floating-point contraction, this header too.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/optim.h"

namespace graft::kernels::optim_detail {

// Calls fn.operator()<flags...>() with the run-time flags as template arguments, so that each
// combination of options compiles to its own straight loop or kernel, without branches.
template <size_t N, bool... kChosen, class Fn>
void with_constant_flags(const std::array<bool, N>& flags, Fn&& fn) {
  if constexpr (sizeof...(kChosen) == N) {
    fn.template operator()<kChosen...>();
  } else if (flags[sizeof...(kChosen)]) {
    with_constant_flags<N, kChosen..., true>(flags, fn);
  } else {
    with_constant_flags<N, kChosen..., false>(flags, fn);
  }
}

template <typename T>
struct SgdConstants {
  T weight_decay, momentum, one_minus_dampening, minus_lr;
};

template <typename T>
SgdConstants<T> sgd_constants(const cpu::SgdHyperparameters& h) {
  return {.weight_decay = static_cast<T>(h.weight_decay),
          .momentum = static_cast<T>(h.momentum),
          .one_minus_dampening = static_cast<T>(1.0 - h.dampening),
          .minus_lr = static_cast<T>(-h.lr)};
}

template <typename T>
struct AdamConstants {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  T weight_decay;            // added to the gradient (Adam)
  T decoupled_decay_factor;  // multiplies the parameter first (AdamW; exactly 1 for Adam)
};

template <typename T>
AdamConstants<T> adam_constants(const cpu::AdamHyperparameters& h) {
  return {.beta1 = static_cast<T>(h.beta1),
          .one_minus_beta1 = static_cast<T>(1.0 - h.beta1),
          .beta2 = static_cast<T>(h.beta2),
          .one_minus_beta2 = static_cast<T>(1.0 - h.beta2),
          .eps = static_cast<T>(h.eps),
          .weight_decay = static_cast<T>(h.weight_decay),
          .decoupled_decay_factor = h.decoupled_weight_decay ? static_cast<T>(1.0 - h.lr * h.weight_decay) : T(1)};
}

// The constants that depend on the step count (the bias corrections).
template <typename T>
struct AdamStepConstants {
  T minus_step_size, bias_correction2_sqrt;
};

template <typename T>
AdamStepConstants<T> adam_step_constants(const cpu::AdamHyperparameters& h, int64_t step) {
  const double bias_correction1 = 1.0 - std::pow(h.beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(h.beta2, static_cast<double>(step));
  return {.minus_step_size = static_cast<T>(-(h.lr / bias_correction1)),
          .bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2))};
}

}  // namespace graft::kernels::optim_detail
