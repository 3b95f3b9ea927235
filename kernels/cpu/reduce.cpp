#include "kernels/reduce.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/parallel.h"

// Every output is summed in an order fixed by the shape alone (never by the thread count), so
// results are bit-identical for any number of threads.

namespace graft::kernels::cpu {
namespace {

// Elements per thread chunk: below this, threading costs more than it saves.
constexpr int64_t kGrainElements = 32768;
// A contiguous run is summed in blocks of this many elements whose partial sums are then added
// in order; the blocks are what threads share out when there are few runs to sum.
constexpr int64_t kBlock = 8192;
// Columns summed together when reducing a strided axis (inner > 1): one double accumulator each.
constexpr int64_t kColumns = 1024;

// Not inlined, so every caller runs the same vectorized code and gets the same rounding.
template <typename T>
[[gnu::noinline]] double block_sum(const T* x, int64_t n) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  return sum;
}

// Sum of x[0, n) as the in-order sum of its blocks' partial sums.
template <typename T>
double run_sum(const T* x, int64_t n) {
  double sum = 0;
  for (int64_t b = 0; b < n; b += kBlock) sum += block_sum(x + b, std::min(kBlock, n - b));
  return sum;
}

// inner == 1: out[o] = sum of the contiguous run x[o * reduce, (o + 1) * reduce).
template <typename T>
void sum_runs(const T* x, int64_t outer, int64_t reduce, T* out) {
  const int64_t blocks = (reduce + kBlock - 1) / kBlock;
  if (outer >= num_threads() || blocks == 1) {
    parallel_for(0, outer, std::max<int64_t>(1, kGrainElements / reduce), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) out[o] = T(run_sum(x + o * reduce, reduce));
    });
    return;
  }
  // Few long runs: share each run's blocks out, then add the partials in order as run_sum does.
  std::vector<double> partial(blocks);
  for (int64_t o = 0; o < outer; ++o) {
    const T* run = x + o * reduce;
    parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b)
        partial[b] = block_sum(run + b * kBlock, std::min(kBlock, reduce - b * kBlock));
    });
    double sum = 0;
    for (const double p : partial) sum += p;
    out[o] = T(sum);
  }
}

// inner > 1: each output column is accumulated over r in order, kColumns columns at a time so
// the adds vectorize across columns.
template <typename T>
void sum_columns(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out) {
  const int64_t tiles_per_row = (inner + kColumns - 1) / kColumns;
  const int64_t grain = std::max<int64_t>(1, kGrainElements / (reduce * std::min(inner, kColumns)));
  parallel_for(0, outer * tiles_per_row, grain, [&](int64_t lo, int64_t hi) {
    double acc[kColumns];
    for (int64_t tile = lo; tile < hi; ++tile) {
      const int64_t o = tile / tiles_per_row;
      const int64_t i0 = tile % tiles_per_row * kColumns;
      const int64_t width = std::min(kColumns, inner - i0);
      std::fill(acc, acc + width, 0.0);
      for (int64_t r = 0; r < reduce; ++r) {
        const T* row = x + (o * reduce + r) * inner + i0;
#pragma omp simd
        for (int64_t i = 0; i < width; ++i) acc[i] += row[i];
      }
      T* dst = out + o * inner + i0;
      for (int64_t i = 0; i < width; ++i) dst[i] = T(acc[i]);
    }
  });
}

}  // namespace

template <typename T>
void sum_reduce(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out) {
  if (outer <= 0 || inner <= 0) return;
  if (reduce == 0) {
    std::fill(out, out + outer * inner, T(0));
  } else if (inner == 1) {
    sum_runs(x, outer, reduce, out);
  } else {
    sum_columns(x, outer, reduce, inner, out);
  }
}

template void sum_reduce<float>(const float*, int64_t, int64_t, int64_t, float*);
template void sum_reduce<double>(const double*, int64_t, int64_t, int64_t, double*);

}  // namespace graft::kernels::cpu
