#pragma once
// One seeded random number generator (xoshiro256**, seeded through splitmix64). The same seed
// gives the same numbers on every run and machine. Its state can be saved and restored, so a
// resumed training run draws the same numbers as an uninterrupted one.
#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace graft {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { manual_seed(seed); }
  void manual_seed(uint64_t seed);

  uint64_t next_u64();
  double next_double();  // uniform in [0, 1), 53 random bits
  double next_normal();  // standard normal (Box-Muller, second value cached)

  struct State {
    std::array<uint64_t, 4> s{};
    bool has_cached_normal = false;
    double cached_normal = 0.0;
  };
  State state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  State state_;
};

// The process-wide generator used when none is given.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Random tensors on the CPU (then moved to `device`), float32 unless stated.
Tensor rand(const Shape& shape, Generator& gen = default_generator(), DType dtype = DType::f32);
Tensor randn(const Shape& shape, Generator& gen = default_generator(), DType dtype = DType::f32);
// Ones with probability p, zeros otherwise.
Tensor bernoulli(const Shape& shape, double p, Generator& gen = default_generator(),
                 DType dtype = DType::f32);
// A random permutation of 0..n-1 (int64), Fisher-Yates.
Tensor randperm(int64_t n, Generator& gen = default_generator());

namespace init {

// In-place initializers (no autograd recording), with PyTorch's formulas:
// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field.
void uniform_(Tensor& t, double low, double high, Generator& gen = default_generator());
void normal_(Tensor& t, double mean, double std, Generator& gen = default_generator());
enum class FanMode { fan_in, fan_out };
// gain = sqrt(2 / (1 + a^2)) (leaky relu with slope a; a = 0 is relu).
void kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                      Generator& gen = default_generator());
void kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                     Generator& gen = default_generator());
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());
void xavier_normal_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());

}  // namespace init
}  // namespace graft
