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

// One window along one axis, as torch defines it: the span is clipped to the padded input
// (which matters with ceil_mode), then to the real input.
struct Span {
  int64_t first, end;  // real input taps [first, end)
  int64_t padded;      // taps counted with count_include_pad
};

Span window_span(int64_t out_pos, int64_t stride, int64_t pad, int64_t kernel, int64_t in_size) {
  const int64_t start = out_pos * stride - pad;
  const int64_t end = std::min(start + kernel, in_size + pad);
  return {std::max<int64_t>(start, 0), std::min(end, in_size), end - start};
}

int64_t divisor(const Span& rows, const Span& cols, bool count_include_pad) {
  return count_include_pad ? rows.padded * cols.padded
                           : (rows.end - rows.first) * (cols.end - cols.first);
}

}  // namespace

template <typename T>
void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const T* x, T* y) {
  const int64_t in_size = g.in_h * g.in_w, out_size = g.out_h * g.out_w;
  parallel_for(0, g.planes, plane_grain(in_size), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const T* in = x + p * in_size;
      T* out = y + p * out_size;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const Span rows = window_span(oh, g.stride_h, g.pad_h, g.kernel_h, g.in_h);
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const Span cols = window_span(ow, g.stride_w, g.pad_w, g.kernel_w, g.in_w);
          double sum = 0;
          for (int64_t h = rows.first; h < rows.end; ++h)
            for (int64_t w = cols.first; w < cols.end; ++w) sum += in[h * g.in_w + w];
          out[oh * g.out_w + ow] = T(sum / divisor(rows, cols, count_include_pad));
        }
      }
    }
  });
}

template <typename T>
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const T* dy, T* dx) {
  const int64_t in_size = g.in_h * g.in_w, out_size = g.out_h * g.out_w;
  parallel_for(0, g.planes, plane_grain(in_size), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* in_grad = dx + p * in_size;
      const T* out_grad = dy + p * out_size;
      std::fill(in_grad, in_grad + in_size, T(0));
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const Span rows = window_span(oh, g.stride_h, g.pad_h, g.kernel_h, g.in_h);
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const Span cols = window_span(ow, g.stride_w, g.pad_w, g.kernel_w, g.in_w);
          const T share = out_grad[oh * g.out_w + ow] / T(divisor(rows, cols, count_include_pad));
          for (int64_t h = rows.first; h < rows.end; ++h)
            for (int64_t w = cols.first; w < cols.end; ++w) in_grad[h * g.in_w + w] += share;
        }
      }
    }
  });
}

template void avg_pool2d_forward<float>(const Pool2dGeometry&, bool, const float*, float*);
template void avg_pool2d_forward<double>(const Pool2dGeometry&, bool, const double*, double*);
template void avg_pool2d_backward<float>(const Pool2dGeometry&, bool, const float*, float*);
template void avg_pool2d_backward<double>(const Pool2dGeometry&, bool, const double*, double*);

}  // namespace graft::kernels::cpu
