#include "core/rng.h"

#include <cmath>
#include <numbers>

#include "core/autograd.h"

namespace graft {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Fills a new CPU tensor of `shape` with draw() in row-major order, then converts to `dtype`.
template <class Draw>
Tensor generate(const Shape& shape, DType dtype, Draw&& draw) {
  Tensor t = Tensor::empty(shape, DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = draw();
  return t.to(dtype);
}

}  // namespace

void Generator::manual_seed(uint64_t seed) {
  state_ = State{};
  uint64_t x = seed;
  for (auto& word : state_.s) word = splitmix64(x);
}

uint64_t Generator::next_u64() {
  auto& s = state_.s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double Generator::next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Generator::next_normal() {
  if (state_.has_cached_normal) {
    state_.has_cached_normal = false;
    return state_.cached_normal;
  }
  const double u1 = 1.0 - next_double();  // (0, 1]: log stays finite
  const double u2 = next_double();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  state_.cached_normal = radius * std::sin(2.0 * std::numbers::pi * u2);
  state_.has_cached_normal = true;
  return radius * std::cos(2.0 * std::numbers::pi * u2);
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

Tensor rand(const Shape& shape, Generator& gen, DType dtype) {
  return generate(shape, dtype, [&] { return gen.next_double(); });
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
  return generate(shape, dtype, [&] { return gen.next_normal(); });
}

Tensor bernoulli(const Shape& shape, double p, Generator& gen, DType dtype) {
  GRAFT_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: probability ", p, " is outside [0, 1]");
  return generate(shape, dtype, [&] { return gen.next_double() < p ? 1.0 : 0.0; });
}

Tensor randperm(int64_t n, Generator& gen) {
  GRAFT_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  Tensor t = Tensor::arange(n, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return t;
}

namespace init {
namespace {

struct Fans {
  double fan_in, fan_out;
};

Fans fans(const Tensor& t, const char* who) {
  GRAFT_CHECK(t.dim() >= 2, who, ": fan in and fan out need a tensor with at least 2 dimensions, got shape ",
              shape_str(t.shape()));
  double receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= static_cast<double>(t.size(d));
  return {static_cast<double>(t.size(1)) * receptive, static_cast<double>(t.size(0)) * receptive};
}

void assign(Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.detach().copy_(values);
}

double kaiming_std(const Tensor& t, double a, FanMode mode, const char* who) {
  const Fans f = fans(t, who);
  const double fan = mode == FanMode::fan_in ? f.fan_in : f.fan_out;
  return std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(fan);
}

}  // namespace

void uniform_(Tensor& t, double low, double high, Generator& gen) {
  assign(t, generate(t.shape(), DType::f64, [&] { return low + (high - low) * gen.next_double(); }));
}

void normal_(Tensor& t, double mean, double std, Generator& gen) {
  assign(t, generate(t.shape(), DType::f64, [&] { return mean + std * gen.next_normal(); }));
}

void kaiming_uniform_(Tensor& t, double a, FanMode mode, Generator& gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, "kaiming_uniform_");
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, Generator& gen) {
  normal_(t, 0.0, kaiming_std(t, a, mode, "kaiming_normal_"), gen);
}

void xavier_uniform_(Tensor& t, double gain, Generator& gen) {
  const Fans f = fans(t, "xavier_uniform_");
  const double bound = gain * std::sqrt(6.0 / (f.fan_in + f.fan_out));
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor& t, double gain, Generator& gen) {
  const Fans f = fans(t, "xavier_normal_");
  normal_(t, 0.0, gain * std::sqrt(2.0 / (f.fan_in + f.fan_out)), gen);
}

}  // namespace init
}  // namespace graft
