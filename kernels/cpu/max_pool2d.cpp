#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/pool2d.h"

namespace graft::kernels::cpu {
namespace {

// Planes per thread chunk: enough that a chunk touches about this many input elements.
constexpr int64_t kGrainElements = 32768;

int64_t plane_grain(int64_t plane_size) {
  return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, plane_size));
}

// The taps of one window along one axis that land inside the input: `count` taps from `first`,
// `dilation` apart.
struct Taps {
  int64_t first, count;
};

Taps window_taps(int64_t out_pos, int64_t stride, int64_t pad, int64_t kernel, int64_t dilation,
                 int64_t in_size) {
  int64_t first = out_pos * stride - pad;
  const int64_t end = std::min(first + (kernel - 1) * dilation + 1, in_size);
  while (first < 0) first += dilation;  // skip the taps that fall in the padding
  return {first, (end - first + dilation - 1) / dilation};
}

// Torch's winner of one window: the first maximum (strict >), except that a NaN takes over, so a
// window holding NaN reports its last NaN. A window of -inf reports its first tap.
template <typename T>
void window_max(const T* in, int64_t in_w, Taps rows, int64_t dilation_h, Taps cols, int64_t dilation_w,
                T& value, int64_t& index) {
  T best = -std::numeric_limits<T>::infinity();
  int64_t best_index = rows.first * in_w + cols.first;
  bool saw_nan = false;
  for (int64_t i = 0; i < rows.count; ++i) {
    const int64_t row = (rows.first + i * dilation_h) * in_w + cols.first;
    for (int64_t j = 0; j < cols.count; ++j) {
      const int64_t k = row + j * dilation_w;
      const T v = in[k];
      best_index = v > best ? k : best_index;
      best = v > best ? v : best;
      saw_nan |= std::isnan(v);
    }
  }
  if (saw_nan) {  // rare: rescan for the last NaN
    for (int64_t i = 0; i < rows.count; ++i)
      for (int64_t j = 0; j < cols.count; ++j) {
        const int64_t k = (rows.first + i * dilation_h) * in_w + cols.first + j * dilation_w;
        if (std::isnan(in[k])) best_index = k;
      }
    best = in[best_index];
  }
  value = best;
  index = best_index;
}

}  // namespace

template <typename T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, int64_t* indices) {
  const int64_t in_size = g.in_h * g.in_w, out_size = g.out_h * g.out_w;
  std::vector<Taps> col_taps(g.out_w);
  for (int64_t ow = 0; ow < g.out_w; ++ow)
    col_taps[ow] = window_taps(ow, g.stride_w, g.pad_w, g.kernel_w, g.dilation_w, g.in_w);
  parallel_for(0, g.planes, plane_grain(in_size), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const T* in = x + p * in_size;
      T* out = y + p * out_size;
      int64_t* out_index = indices + p * out_size;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const Taps rows = window_taps(oh, g.stride_h, g.pad_h, g.kernel_h, g.dilation_h, g.in_h);
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          window_max(in, g.in_w, rows, g.dilation_h, col_taps[ow], g.dilation_w, out[oh * g.out_w + ow],
                     out_index[oh * g.out_w + ow]);
        }
      }
    }
  });
}

template <typename T>
void max_pool2d_backward(const Pool2dGeometry& g, const T* dy, const int64_t* indices, T* dx) {
  const int64_t in_size = g.in_h * g.in_w, out_size = g.out_h * g.out_w;
  parallel_for(0, g.planes, plane_grain(in_size), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* in_grad = dx + p * in_size;
      const T* out_grad = dy + p * out_size;
      const int64_t* out_index = indices + p * out_size;
      std::fill(in_grad, in_grad + in_size, T(0));
      for (int64_t o = 0; o < out_size; ++o) in_grad[out_index[o]] += out_grad[o];
    }
  });
}

template void max_pool2d_forward<float>(const Pool2dGeometry&, const float*, float*, int64_t*);
template void max_pool2d_forward<double>(const Pool2dGeometry&, const double*, double*, int64_t*);
template void max_pool2d_backward<float>(const Pool2dGeometry&, const float*, const int64_t*, float*);
template void max_pool2d_backward<double>(const Pool2dGeometry&, const double*, const int64_t*, double*);

}  // namespace graft::kernels::cpu
