#include <algorithm>

#include "kernels/cpu/parallel.h"
#include "kernels/pool2d.h"

namespace graft::kernels::cpu {
namespace {

// Planes per thread chunk: enough that a chunk touches about this many input elements.
constexpr int64_t kGrainElements = 32768;

int64_t plane_grain(int64_t plane_size) {
  return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, plane_size));
}

// Output position i of `out` covers input [floor(i * in / out), ceil((i + 1) * in / out)).
int64_t window_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
int64_t window_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

}  // namespace

template <typename T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                                 int64_t out_w, const T* x, T* y) {
  const int64_t in_size = in_h * in_w, out_size = out_h * out_w;
  parallel_for(0, planes, plane_grain(in_size), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const T* in = x + p * in_size;
      T* out = y + p * out_size;
      for (int64_t oh = 0; oh < out_h; ++oh) {
        const int64_t h0 = window_start(oh, in_h, out_h), h1 = window_end(oh, in_h, out_h);
        for (int64_t ow = 0; ow < out_w; ++ow) {
          const int64_t w0 = window_start(ow, in_w, out_w), w1 = window_end(ow, in_w, out_w);
          double sum = 0;
          for (int64_t h = h0; h < h1; ++h) {
            const T* row = in + h * in_w;
#pragma omp simd reduction(+ : sum)
            for (int64_t w = w0; w < w1; ++w) sum += row[w];
          }
          out[oh * out_w + ow] = T(sum / ((h1 - h0) * (w1 - w0)));
        }
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                                  int64_t out_w, const T* dy, T* dx) {
  const int64_t in_size = in_h * in_w, out_size = out_h * out_w;
  parallel_for(0, planes, plane_grain(in_size), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* in_grad = dx + p * in_size;
      const T* out_grad = dy + p * out_size;
      std::fill(in_grad, in_grad + in_size, T(0));
      for (int64_t oh = 0; oh < out_h; ++oh) {
        const int64_t h0 = window_start(oh, in_h, out_h), h1 = window_end(oh, in_h, out_h);
        for (int64_t ow = 0; ow < out_w; ++ow) {
          const int64_t w0 = window_start(ow, in_w, out_w), w1 = window_end(ow, in_w, out_w);
          const T share = out_grad[oh * out_w + ow] / T((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h) {
            T* row = in_grad + h * in_w;
#pragma omp simd
            for (int64_t w = w0; w < w1; ++w) row[w] += share;
          }
        }
      }
    }
  });
}

template void adaptive_avg_pool2d_forward<float>(int64_t, int64_t, int64_t, int64_t, int64_t,
                                                 const float*, float*);
template void adaptive_avg_pool2d_forward<double>(int64_t, int64_t, int64_t, int64_t, int64_t,
                                                  const double*, double*);
template void adaptive_avg_pool2d_backward<float>(int64_t, int64_t, int64_t, int64_t, int64_t,
                                                  const float*, float*);
template void adaptive_avg_pool2d_backward<double>(int64_t, int64_t, int64_t, int64_t, int64_t,
                                                   const double*, double*);

}  // namespace graft::kernels::cpu
