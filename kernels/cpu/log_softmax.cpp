#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"
#include "kernels/softmax.h"

// The buffer is [outer, dim, inner]; each (outer, tile of inner columns) is one task. Within a
// task every column is reduced over dim in order, with the adds vectorized across the columns
// (inner == 1 is a tile one column wide). Sums run in double.

namespace graft::kernels::cpu {
namespace {

constexpr int64_t kGrainElements = 32768;
constexpr int64_t kColumns = 64;

template <typename Fn>
void for_each_tile(int64_t outer, int64_t dim, int64_t inner, Fn&& fn) {
  const int64_t tiles_per_row = (inner + kColumns - 1) / kColumns;
  const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, dim * std::min(inner, kColumns)));
  parallel_for(0, outer * tiles_per_row, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t tile = lo; tile < hi; ++tile) {
      const int64_t o = tile / tiles_per_row;
      const int64_t i0 = tile % tiles_per_row * kColumns;
      fn(o * dim * inner + i0, std::min(kColumns, inner - i0));
    }
  });
}

}  // namespace

template <typename T>
void log_softmax_forward(const T* x, int64_t outer, int64_t dim, int64_t inner, T* y) {
  if (dim <= 0) return;
  for_each_tile(outer, dim, inner, [&](int64_t offset, int64_t width) {
    const T* in = x + offset;
    T* out = y + offset;
    T max[kColumns];
    double sum[kColumns];
    std::copy(in, in + width, max);
    for (int64_t d = 1; d < dim; ++d)
      for (int64_t i = 0; i < width; ++i) max[i] = std::max(max[i], in[d * inner + i]);
    std::fill(sum, sum + width, 0.0);
    for (int64_t d = 0; d < dim; ++d)
      for (int64_t i = 0; i < width; ++i) sum[i] += std::exp(double(in[d * inner + i] - max[i]));
    double log_sum_exp[kColumns];
    for (int64_t i = 0; i < width; ++i) log_sum_exp[i] = max[i] + std::log(sum[i]);
    for (int64_t d = 0; d < dim; ++d)
      for (int64_t i = 0; i < width; ++i) out[d * inner + i] = T(in[d * inner + i] - log_sum_exp[i]);
  });
}

template <typename T>
void log_softmax_backward(const T* dy, const T* y, int64_t outer, int64_t dim, int64_t inner,
                          T* dx) {
  for_each_tile(outer, dim, inner, [&](int64_t offset, int64_t width) {
    double sum[kColumns];
    std::fill(sum, sum + width, 0.0);
    for (int64_t d = 0; d < dim; ++d)
      for (int64_t i = 0; i < width; ++i) sum[i] += dy[offset + d * inner + i];
    for (int64_t d = 0; d < dim; ++d) {
      for (int64_t i = 0; i < width; ++i) {
        const int64_t k = offset + d * inner + i;
        dx[k] = T(dy[k] - std::exp(double(y[k])) * sum[i]);
      }
    }
  });
}

template void log_softmax_forward<float>(const float*, int64_t, int64_t, int64_t, float*);
template void log_softmax_forward<double>(const double*, int64_t, int64_t, int64_t, double*);
template void log_softmax_backward<float>(const float*, const float*, int64_t, int64_t, int64_t, float*);
template void log_softmax_backward<double>(const double*, const double*, int64_t, int64_t, int64_t, double*);

}  // namespace graft::kernels::cpu
