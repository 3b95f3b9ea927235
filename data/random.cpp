#include "data/random.h"

#include <cmath>

#include "core/error.h"
#include "data/unfused.h"

namespace graft::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

double uniform(Generator& rng, double low, double high) {
  return low + unfused_product(high - low, rng.next_double());  // the same draw on every CPU
}

int64_t random_below(Generator& rng, int64_t n) {
  GRAFT_CHECK(n > 0, "random_below: the bound must be positive, got ", n);
  return static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(n));
}

int64_t round_half_even(double value) { return static_cast<int64_t>(std::nearbyint(value)); }

uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t hash = 0x6a09e667f3bcc909ull;  // any fixed start: an empty list still has a seed
  for (uint64_t part : parts) hash = splitmix64(hash ^ splitmix64(part));
  return hash;
}

Generator derived_generator(std::initializer_list<uint64_t> parts) { return Generator(mix_seed(parts)); }

}  // namespace graft::data
