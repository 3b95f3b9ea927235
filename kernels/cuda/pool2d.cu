// 2-D pooling on the GPU, computed as the CPU twins compute it (kernels/cpu/max_pool2d.cpp,
// avg_pool2d.cpp, adaptive_avg_pool2d.cpp): the same window rules, the same sums in the same order.
// - Forward: one thread per output element (a grid-stride loop over planes * out_h * out_w), except
//   adaptive pooling with large windows (global average pooling): one warp per output there, the
//   lanes reading neighbouring elements.
// - Backward: one thread per input element, gathering. The outputs whose windows can reach input
//   row h are those with o * stride - pad <= h <= o * stride - pad + extent - 1, a range of about
//   extent / stride; the thread visits them in increasing output order and adds what the CPU twin's
//   scatter would add to this element, in the same order. So dx equals the CPU twin's bit for bit,
//   and there are no atomics.
// Index arithmetic is int64; a flat index splits into (plane, row, column) with FastDivmod when
// the grid has fewer than 2^31 elements (nearly always), with 64-bit division otherwise.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/fast_divmod.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/rounding.cuh"
#include "kernels/pool2d.h"

namespace graft::kernels::cuda {
namespace {

// ---- the grid of elements: (plane, row, column) from a flat index ------------------------------

template <bool kWide>
struct PlaneGrid;

template <>
struct PlaneGrid<true> {
  int64_t h, w;
  __device__ void split(int64_t i, int64_t& plane, int64_t& row, int64_t& col) const {
    col = i % w;
    const int64_t r = i / w;
    row = r % h;
    plane = r / h;
  }
};

template <>
struct PlaneGrid<false> {
  FastDivmod h, w;
  __device__ void split(int64_t i, int64_t& plane, int64_t& row, int64_t& col) const {
    const uint32_t flat = uint32_t(i);
    const uint32_t r = w.divide(flat);
    col = flat - r * w.divisor();
    const uint32_t p = h.divide(r);
    row = r - p * h.divisor();
    plane = p;
  }
};

template <bool kWide, typename Body>
__global__ void plane_grid_kernel(PlaneGrid<kWide> grid, int64_t total, Body body) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t plane, row, col;
    grid.split(i, plane, row, col);
    body(i, plane, row, col);
  }
}

// Runs body(i, plane, row, col) once for every element of a [planes, h, w] grid.
template <typename Body>
void launch_over_grid(int64_t planes, int64_t h, int64_t w, const Body& body, cudaStream_t stream,
                      const char* kernel) {
  const int64_t total = planes * h * w;
  if (total == 0) return;
  const int blocks = grid_stride_blocks(total);
  if (total < (int64_t{1} << 31)) {
    const PlaneGrid<false> grid{FastDivmod(uint32_t(h)), FastDivmod(uint32_t(w))};
    plane_grid_kernel<<<blocks, kBlockThreads, 0, stream>>>(grid, total, body);
  } else {
    plane_grid_kernel<<<blocks, kBlockThreads, 0, stream>>>(PlaneGrid<true>{h, w}, total, body);
  }
  check_launch(kernel);
}

// ---- window arithmetic (the CPU twins' rules) --------------------------------------------------

__host__ __device__ inline int64_t max_index(int64_t a, int64_t b) { return a > b ? a : b; }

// ceil(a / b) for b > 0 and any sign of a.
__device__ inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// The outputs o in [0, out) with o * stride - pad <= pos <= o * stride - pad + extent - 1: those
// whose windows (extent taps wide, dilation included) can reach input position pos.
struct OutputRange {
  int64_t first, last;  // inclusive; empty when first > last
};

__device__ inline OutputRange outputs_reaching(int64_t pos, int64_t stride, int64_t pad, int64_t extent, int64_t out) {
  return {max_index(0, ceil_div(pos + pad - extent + 1, stride)), min_index(out - 1, (pos + pad) / stride)};
}

// Max pooling: the taps of one window along one axis that land inside the input, `count` of them
// from `first`, `dilation` apart (count <= 0 when all of them fall in the padding).
struct Taps {
  int64_t first, count;
};

__device__ inline Taps window_taps(int64_t out_pos, int64_t stride, int64_t pad, int64_t kernel, int64_t dilation,
                                   int64_t in_size) {
  int64_t first = out_pos * stride - pad;
  const int64_t end = min_index(first + (kernel - 1) * dilation + 1, in_size);
  if (first < 0) first += (-first + dilation - 1) / dilation * dilation;  // skip the taps in the padding
  return {first, (end - first + dilation - 1) / dilation};
}

// Average pooling: one window along one axis, clipped to the padded input, then to the input.
struct Span {
  int64_t first, end;  // real input taps [first, end)
  int64_t padded;      // taps counted with count_include_pad
};

__device__ inline Span window_span(int64_t out_pos, int64_t stride, int64_t pad, int64_t kernel, int64_t in_size) {
  const int64_t start = out_pos * stride - pad;
  const int64_t end = min_index(start + kernel, in_size + pad);
  return {max_index(start, 0), min_index(end, in_size), end - start};
}

__device__ inline int64_t span_divisor(const Span& rows, const Span& cols, bool count_include_pad) {
  return count_include_pad ? rows.padded * cols.padded : (rows.end - rows.first) * (cols.end - cols.first);
}

// Adaptive pooling: output i of `out` covers input [floor(i * in / out), ceil((i + 1) * in / out)).
__device__ inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
__device__ inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

// The outputs whose adaptive windows contain input position pos.
__device__ inline OutputRange adaptive_outputs_reaching(int64_t pos, int64_t in, int64_t out) {
  return {pos * out / in, min_index(out - 1, ((pos + 1) * out + in - 1) / in - 1)};
}

// ---- max pooling -------------------------------------------------------------------------------

// The first maximum wins (strict >); a NaN takes over, the window's last NaN; a window of -inf (or
// with no taps) reports its first tap.
template <typename T>
struct MaxForward {
  Pool2dGeometry g;
  const T* x;
  T* y;
  int64_t* indices;

  __device__ void operator()(int64_t i, int64_t plane, int64_t oh, int64_t ow) const {
    const Taps rows = window_taps(oh, g.stride_h, g.pad_h, g.kernel_h, g.dilation_h, g.in_h);
    const Taps cols = window_taps(ow, g.stride_w, g.pad_w, g.kernel_w, g.dilation_w, g.in_w);
    const T* in = x + plane * g.in_h * g.in_w;
    T best = T(-INFINITY), last_nan = T(0);
    int64_t best_index = rows.first * g.in_w + cols.first, last_nan_index = -1;
    for (int64_t r = 0; r < rows.count; ++r) {
      const int64_t row = (rows.first + r * g.dilation_h) * g.in_w + cols.first;
      for (int64_t c = 0; c < cols.count; ++c) {
        const int64_t k = row + c * g.dilation_w;
        const T v = in[k];
        if (v > best) {
          best = v;
          best_index = k;
        }
        if (v != v) {
          last_nan = v;
          last_nan_index = k;
        }
      }
    }
    if (last_nan_index >= 0) {
      best = last_nan;
      best_index = last_nan_index;
    }
    y[i] = best;
    indices[i] = best_index;
  }
};

// dx[h, w] = the sum, in output order, of dy over the outputs whose saved index is (h, w).
template <typename T>
struct MaxBackward {
  Pool2dGeometry g;
  const T* dy;
  const int64_t* indices;
  T* dx;

  __device__ void operator()(int64_t i, int64_t plane, int64_t h, int64_t w) const {
    const int64_t out_size = g.out_h * g.out_w;
    const T* grad = dy + plane * out_size;
    const int64_t* index = indices + plane * out_size;
    const int64_t target = h * g.in_w + w;
    const OutputRange rows =
        outputs_reaching(h, g.stride_h, g.pad_h, (g.kernel_h - 1) * g.dilation_h + 1, g.out_h);
    const OutputRange cols =
        outputs_reaching(w, g.stride_w, g.pad_w, (g.kernel_w - 1) * g.dilation_w + 1, g.out_w);
    T sum = T(0);
    for (int64_t oh = rows.first; oh <= rows.last; ++oh)
      for (int64_t ow = cols.first; ow <= cols.last; ++ow) {
        const int64_t o = oh * g.out_w + ow;
        if (index[o] == target) sum += grad[o];
      }
    dx[i] = sum;
  }
};

// ---- average pooling ---------------------------------------------------------------------------

template <typename T>
struct AvgForward {
  Pool2dGeometry g;
  bool count_include_pad;
  const T* x;
  T* y;

  __device__ void operator()(int64_t i, int64_t plane, int64_t oh, int64_t ow) const {
    const Span rows = window_span(oh, g.stride_h, g.pad_h, g.kernel_h, g.in_h);
    const Span cols = window_span(ow, g.stride_w, g.pad_w, g.kernel_w, g.in_w);
    const T* in = x + plane * g.in_h * g.in_w;
    double sum = 0;
    for (int64_t h = rows.first; h < rows.end; ++h)
      for (int64_t w = cols.first; w < cols.end; ++w) sum += double(in[h * g.in_w + w]);
    y[i] = T(rounded_divide(sum, double(span_divisor(rows, cols, count_include_pad))));
  }
};

// dx[h, w] = the sum, in output order, of dy / divisor over the windows holding (h, w).
template <typename T>
struct AvgBackward {
  Pool2dGeometry g;
  bool count_include_pad;
  const T* dy;
  T* dx;

  __device__ void operator()(int64_t i, int64_t plane, int64_t h, int64_t w) const {
    const T* grad = dy + plane * g.out_h * g.out_w;
    const OutputRange row_outputs = outputs_reaching(h, g.stride_h, g.pad_h, g.kernel_h, g.out_h);
    const OutputRange col_outputs = outputs_reaching(w, g.stride_w, g.pad_w, g.kernel_w, g.out_w);
    T sum = T(0);
    for (int64_t oh = row_outputs.first; oh <= row_outputs.last; ++oh) {
      const Span rows = window_span(oh, g.stride_h, g.pad_h, g.kernel_h, g.in_h);
      if (h < rows.first || h >= rows.end) continue;
      for (int64_t ow = col_outputs.first; ow <= col_outputs.last; ++ow) {
        const Span cols = window_span(ow, g.stride_w, g.pad_w, g.kernel_w, g.in_w);
        if (w < cols.first || w >= cols.end) continue;
        sum += rounded_divide(grad[oh * g.out_w + ow], T(span_divisor(rows, cols, count_include_pad)));
      }
    }
    dx[i] = sum;
  }
};

// ---- adaptive average pooling ------------------------------------------------------------------

struct AdaptiveGeometry {
  int64_t in_h, in_w, out_h, out_w;
};

// The window of output (oh, ow): rows [h0, h1), columns [w0, w1).
struct AdaptiveWindow {
  int64_t h0, h1, w0, w1;
  __device__ AdaptiveWindow(const AdaptiveGeometry& a, int64_t oh, int64_t ow)
      : h0(adaptive_start(oh, a.in_h, a.out_h)),
        h1(adaptive_end(oh, a.in_h, a.out_h)),
        w0(adaptive_start(ow, a.in_w, a.out_w)),
        w1(adaptive_end(ow, a.in_w, a.out_w)) {}
  __device__ int64_t size() const { return (h1 - h0) * (w1 - w0); }
};

template <typename T>
struct AdaptiveForward {
  AdaptiveGeometry a;
  const T* x;
  T* y;

  __device__ void operator()(int64_t i, int64_t plane, int64_t oh, int64_t ow) const {
    const AdaptiveWindow win(a, oh, ow);
    const T* in = x + plane * a.in_h * a.in_w;
    double sum = 0;
    for (int64_t h = win.h0; h < win.h1; ++h)
      for (int64_t w = win.w0; w < win.w1; ++w) sum += double(in[h * a.in_w + w]);
    y[i] = T(rounded_divide(sum, double(win.size())));
  }
};

// One warp per output: lane l adds the window's elements l, l + 32, ... (row-major), then the
// warp adds the lanes' sums in a fixed tree.
template <typename T>
__global__ void adaptive_forward_warp_kernel(AdaptiveGeometry a, int64_t outputs, const T* x, T* y) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps_per_block = blockDim.x / kWarpSize;
  for (int64_t o = blockIdx.x * warps_per_block + threadIdx.x / kWarpSize; o < outputs;
       o += gridDim.x * warps_per_block) {
    const int64_t ow = o % a.out_w, oh = o / a.out_w % a.out_h, plane = o / a.out_w / a.out_h;
    const AdaptiveWindow win(a, oh, ow);
    const int64_t width = win.w1 - win.w0;
    const T* in = x + plane * a.in_h * a.in_w;
    double sum = 0;
    for (int64_t t = lane; t < win.size(); t += kWarpSize) {
      const int64_t r = t / width;
      sum += double(in[(win.h0 + r) * a.in_w + win.w0 + (t - r * width)]);
    }
    sum = warp_reduce(sum, Plus{});
    if (lane == 0) y[o] = T(rounded_divide(sum, double(win.size())));
  }
}

// Windows of at least this many elements on average go to a warp each.
constexpr int64_t kWarpWindowMin = 16;

template <typename T>
struct AdaptiveBackward {
  AdaptiveGeometry a;
  const T* dy;
  T* dx;

  __device__ void operator()(int64_t i, int64_t plane, int64_t h, int64_t w) const {
    const T* grad = dy + plane * a.out_h * a.out_w;
    const OutputRange row_outputs = adaptive_outputs_reaching(h, a.in_h, a.out_h);
    const OutputRange col_outputs = adaptive_outputs_reaching(w, a.in_w, a.out_w);
    T sum = T(0);
    for (int64_t oh = row_outputs.first; oh <= row_outputs.last; ++oh)
      for (int64_t ow = col_outputs.first; ow <= col_outputs.last; ++ow) {
        const AdaptiveWindow win(a, oh, ow);
        if (h < win.h0 || h >= win.h1 || w < win.w0 || w >= win.w1) continue;
        sum += rounded_divide(grad[oh * a.out_w + ow], T(win.size()));
      }
    dx[i] = sum;
  }
};

// ---- argument checks ---------------------------------------------------------------------------

void check_geometry(const char* kernel, const Pool2dGeometry& g, bool uses_dilation) {
  check_sizes_not_negative(kernel, {g.planes, g.in_h, g.in_w, g.out_h, g.out_w, g.pad_h, g.pad_w});
  const bool windows_ok = g.kernel_h >= 1 && g.kernel_w >= 1 && g.stride_h >= 1 && g.stride_w >= 1 &&
                          (!uses_dilation || (g.dilation_h >= 1 && g.dilation_w >= 1));
  if (!windows_ok)
    throw std::invalid_argument(std::string(kernel) + ": kernel size, stride" + (uses_dilation ? " and dilation" : "") +
                                " must be at least 1 (got kernel " + std::to_string(g.kernel_h) + "x" +
                                std::to_string(g.kernel_w) + ", stride " + std::to_string(g.stride_h) + "x" +
                                std::to_string(g.stride_w) + ", dilation " + std::to_string(g.dilation_h) + "x" +
                                std::to_string(g.dilation_w) + ")");
}

}  // namespace

template <typename T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, int64_t* indices, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::max_pool2d_forward";
  check_geometry(kName, g, true);
  if (g.planes * g.out_h * g.out_w == 0) return;
  check_not_null(kName, {y, indices});
  if (g.in_h * g.in_w > 0) check_not_null(kName, {x});
  launch_over_grid(g.planes, g.out_h, g.out_w, MaxForward<T>{g, x, y, indices}, stream, kName);
}

template <typename T>
void max_pool2d_backward(const Pool2dGeometry& g, const T* dy, const int64_t* indices, T* dx, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::max_pool2d_backward";
  check_geometry(kName, g, true);
  if (g.planes * g.in_h * g.in_w == 0) return;
  check_not_null(kName, {dx});
  if (g.out_h * g.out_w > 0) check_not_null(kName, {dy, indices});
  launch_over_grid(g.planes, g.in_h, g.in_w, MaxBackward<T>{g, dy, indices, dx}, stream, kName);
}

template <typename T>
void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const T* x, T* y, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::avg_pool2d_forward";
  check_geometry(kName, g, false);
  if (g.planes * g.out_h * g.out_w == 0) return;
  check_not_null(kName, {y});
  if (g.in_h * g.in_w > 0) check_not_null(kName, {x});
  launch_over_grid(g.planes, g.out_h, g.out_w, AvgForward<T>{g, count_include_pad, x, y}, stream, kName);
}

template <typename T>
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const T* dy, T* dx, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::avg_pool2d_backward";
  check_geometry(kName, g, false);
  if (g.planes * g.in_h * g.in_w == 0) return;
  check_not_null(kName, {dx});
  if (g.out_h * g.out_w > 0) check_not_null(kName, {dy});
  launch_over_grid(g.planes, g.in_h, g.in_w, AvgBackward<T>{g, count_include_pad, dy, dx}, stream, kName);
}

template <typename T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, const T* x,
                                 T* y, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::adaptive_avg_pool2d_forward";
  check_sizes_not_negative(kName, {planes, in_h, in_w, out_h, out_w});
  const int64_t outputs = planes * out_h * out_w;
  if (outputs == 0) return;
  check_not_null(kName, {y});
  if (in_h * in_w > 0) check_not_null(kName, {x});
  const AdaptiveGeometry a{in_h, in_w, out_h, out_w};
  if (in_h * in_w >= kWarpWindowMin * out_h * out_w) {
    const int blocks = grid_stride_blocks(outputs * kWarpSize);
    adaptive_forward_warp_kernel<<<blocks, kBlockThreads, 0, stream>>>(a, outputs, x, y);
    check_launch(kName);
    return;
  }
  launch_over_grid(planes, out_h, out_w, AdaptiveForward<T>{a, x, y}, stream, kName);
}

template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w,
                                  const T* dy, T* dx, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::adaptive_avg_pool2d_backward";
  check_sizes_not_negative(kName, {planes, in_h, in_w, out_h, out_w});
  if (planes * in_h * in_w == 0) return;
  check_not_null(kName, {dx});
  if (out_h * out_w > 0) check_not_null(kName, {dy});
  launch_over_grid(planes, in_h, in_w, AdaptiveBackward<T>{{in_h, in_w, out_h, out_w}, dy, dx}, stream, kName);
}

#define GRAFT_INSTANTIATE(T)                                                                                     \
  template void max_pool2d_forward<T>(const Pool2dGeometry&, const T*, T*, int64_t*, Stream);                    \
  template void max_pool2d_backward<T>(const Pool2dGeometry&, const T*, const int64_t*, T*, Stream);             \
  template void avg_pool2d_forward<T>(const Pool2dGeometry&, bool, const T*, T*, Stream);                        \
  template void avg_pool2d_backward<T>(const Pool2dGeometry&, bool, const T*, T*, Stream);                       \
  template void adaptive_avg_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*, Stream); \
  template void adaptive_avg_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, T*, Stream);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
#undef GRAFT_INSTANTIATE

}  // namespace graft::kernels::cuda
