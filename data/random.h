#pragma once
// The random draws that augmentations and the loader share. Every draw comes from a graft::Generator
// passed in by the caller, never from a global or the clock, so a seed fixes every outcome.
//
// The loader gives each (epoch, sample) its own generator, derived by hashing the run's seed with
// the epoch and the sample's index: the augmentation of a sample then depends on nothing else (not
// on which worker thread decoded it, nor on what was decoded before), and a resumed run sees the
// same crops and flips as an uninterrupted one.
#include <cstdint>
#include <initializer_list>

#include "core/rng.h"

namespace graft::data {

// A closed interval of real numbers [min, max], e.g. the scale range of RandomResizedCrop.
struct Range {
  double min = 0.0;
  double max = 0.0;
};

// Uniform in [low, high) (high when low == high), as torch's uniform_(low, high).
double uniform(Generator& rng, double low, double high);
// Uniform integer in [0, n), n > 0, as torch.randint(0, n).
int64_t random_below(Generator& rng, int64_t n);
// Python's round() for floats: to the nearest integer, halves to the even neighbour.
int64_t round_half_even(double value);

// A 64-bit seed that hashes all of `parts` (splitmix64 chained over them): different part lists
// give unrelated streams.
uint64_t mix_seed(std::initializer_list<uint64_t> parts);
// A generator seeded with mix_seed(parts).
Generator derived_generator(std::initializer_list<uint64_t> parts);

}  // namespace graft::data
