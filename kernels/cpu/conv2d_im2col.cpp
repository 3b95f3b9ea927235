#include "kernels/cpu/conv2d_im2col.h"

#include <algorithm>

namespace graft::kernels::cpu {
namespace {

// One output row's stretch of one row of the column matrix: output columns ow in
// [ow_begin, ow_end), stored from column index `column` on. Taps of ow in [live_begin, live_end)
// read the input at src_offset + ow * stride_w (offset from the group's first channel); the rest
// fall in the padding.
struct Run {
  int64_t row, column;
  int64_t ow_begin, ow_end;
  int64_t live_begin, live_end;
  int64_t src_offset;
};

// The (input channel, kernel row, kernel column) of a row of the column matrix, stepped to the next
// row by counting rather than dividing.
struct Tap {
  int64_t c, i, j;
  Tap(const Conv2dGeometry& g, int64_t row)
      : c(row / (g.kernel_h * g.kernel_w)), i(row % (g.kernel_h * g.kernel_w) / g.kernel_w), j(row % g.kernel_w) {}
  void next(const Conv2dGeometry& g) {
    if (++j == g.kernel_w) {
      j = 0;
      if (++i == g.kernel_h) i = 0, ++c;
    }
  }
};

}  // namespace

ColumnMatrix::ColumnMatrix(const Conv2dGeometry& g)
    : g_(g),
      pointwise_(is_pointwise(g)),
      shifted_(g.stride_h == 1 && g.stride_w == 1 && g.out_w() == g.in_w),
      valid_rows_(g.kernel_h),
      valid_cols_(g.kernel_w) {
  for (int64_t i = 0; i < g.kernel_h; ++i) {
    valid_rows_[i] = valid_outputs(i * g.dilation_h - g.pad_h, g.stride_h, g.in_h, g.out_h());
  }
  for (int64_t j = 0; j < g.kernel_w; ++j) {
    valid_cols_[j] = valid_outputs(j * g.dilation_w - g.pad_w, g.stride_w, g.in_w, g.out_w());
  }
}

// Calls visit(run) for every run that rows [r0, r1) x columns [n0, n1) consist of.
template <typename Visit>
void ColumnMatrix::for_each_run(int64_t r0, int64_t r1, int64_t n0, int64_t n1,
                                Visit&& visit) const {
  const Conv2dGeometry& g = g_;
  const int64_t out_w = g.out_w(), in_plane = g.in_h * g.in_w;
  const int64_t oh_first = n0 / out_w, oh_last = (n1 - 1) / out_w;
  Tap tap(g, r0);
  Run run{};
  for (run.row = r0; run.row < r1; ++run.row, tap.next(g)) {
    const int64_t h_offset = tap.i * g.dilation_h - g.pad_h, w_offset = tap.j * g.dilation_w - g.pad_w;
    const ValidRange rows = valid_rows_[tap.i], cols = valid_cols_[tap.j];
    for (int64_t oh = oh_first; oh <= oh_last; ++oh) {
      run.ow_begin = std::max<int64_t>(n0 - oh * out_w, 0);
      run.ow_end = std::min<int64_t>(n1 - oh * out_w, out_w);
      run.column = oh * out_w + run.ow_begin - n0;
      if (oh < rows.begin || oh >= rows.end) {
        run.live_begin = run.live_end = run.ow_begin;
      } else {
        run.live_begin = std::clamp(cols.begin, run.ow_begin, run.ow_end);
        run.live_end = std::clamp(cols.end, run.live_begin, run.ow_end);
      }
      run.src_offset = tap.c * in_plane + (oh * g.stride_h + h_offset) * g.in_w + w_offset;
      visit(run);
    }
  }
}

template <typename T>
void ColumnMatrix::im2col(const T* x, int64_t r0, int64_t r1, int64_t n0, int64_t n1, T* col,
                          int64_t ld_col) const {
  if (pointwise_) {
    const int64_t in_plane = g_.in_h * g_.in_w;
    for (int64_t r = r0; r < r1; ++r) {
      std::copy(x + r * in_plane + n0, x + r * in_plane + n1, col + (r - r0) * ld_col);
    }
    return;
  }
  if (shifted_) return im2col_shifted(x, r0, r1, n0, n1, col, ld_col);
  const int64_t stride = g_.stride_w;
  for_each_run(r0, r1, n0, n1, [&](const Run& r) {
    // Runs are short (an output row at most), so plain loops beat library calls here.
    T* dst = col + (r.row - r0) * ld_col + r.column;  // dst[k] holds ow = ow_begin + k
    const int64_t pad_before = r.live_begin - r.ow_begin, live = r.live_end - r.live_begin;
    const int64_t pad_after = r.ow_end - r.live_end;
    for (int64_t k = 0; k < pad_before; ++k) dst[k] = T(0);
    T* out = dst + pad_before;
    if (live > 0) {
      const T* src = x + r.src_offset + r.live_begin * stride;
      if (stride == 1) {
        for (int64_t k = 0; k < live; ++k) out[k] = src[k];
      } else {
        for (int64_t k = 0; k < live; ++k) out[k] = src[k * stride];
      }
    }
    for (int64_t k = 0; k < pad_after; ++k) out[live + k] = T(0);
  });
}

// Output position n = oh * out_w + ow of row (c, i, j) reads the input at row oh + di and column
// ow + dj (di = i * dilation_h - pad_h, likewise dj); with out_w == in_w that is the flat index
// n + di * in_w + dj of channel c's plane: one contiguous copy per row. Positions whose input row
// is outside the image, or whose input column is (they would wrap into the neighbouring row), are
// zero. The copy is clipped to the plane, so nothing outside it is read.
template <typename T>
void ColumnMatrix::im2col_shifted(const T* x, int64_t r0, int64_t r1, int64_t n0, int64_t n1, T* col,
                                  int64_t ld_col) const {
  const Conv2dGeometry& g = g_;
  const int64_t width = g.in_w, in_plane = g.in_h * g.in_w;
  Tap tap(g, r0);
  for (int64_t r = r0; r < r1; ++r, tap.next(g)) {
    T* out = col + (r - r0) * ld_col;  // out[k] holds position n0 + k
    const int64_t shift = (tap.i * g.dilation_h - g.pad_h) * width + (tap.j * g.dilation_w - g.pad_w);
    const ValidRange rows = valid_rows_[tap.i], cols = valid_cols_[tap.j];
    // Copy where the input row is inside the image and the flat index inside the plane.
    const int64_t copy_begin = std::clamp(std::max(rows.begin * width, -shift), n0, n1);
    const int64_t copy_end = std::clamp(std::min(rows.end * width, in_plane - shift), copy_begin, n1);
    const T* src = x + tap.c * in_plane + shift;
    std::fill(out, out + (copy_begin - n0), T(0));
    std::copy(src + copy_begin, src + copy_end, out + (copy_begin - n0));
    std::fill(out + (copy_end - n0), out + (n1 - n0), T(0));
    // Zero the positions whose input column is outside the image, in every output row copied.
    if (cols.begin > 0 || cols.end < width) {
      for (int64_t row_start = copy_begin / width * width; row_start < copy_end; row_start += width) {
        const int64_t left_end = std::min(row_start + cols.begin, copy_end);
        for (int64_t n = std::max(row_start, copy_begin); n < left_end; ++n) out[n - n0] = T(0);
        const int64_t right_end = std::min(row_start + width, copy_end);
        for (int64_t n = std::max(row_start + cols.end, copy_begin); n < right_end; ++n) out[n - n0] = T(0);
      }
    }
  }
}

template <typename T>
void ColumnMatrix::col2im_add(const T* col, int64_t ld_col, int64_t n0, int64_t n1, T* x) const {
  const int64_t stride = g_.stride_w;
  for_each_run(0, column_rows(g_), n0, n1, [&](const Run& r) {
    const int64_t live = r.live_end - r.live_begin;
    if (live == 0) return;
    const T* in = col + r.row * ld_col + r.column + (r.live_begin - r.ow_begin);
    T* out = x + r.src_offset + r.live_begin * stride;
    if (stride == 1) {
      for (int64_t k = 0; k < live; ++k) out[k] += in[k];
    } else {
      for (int64_t k = 0; k < live; ++k) out[k * stride] += in[k];
    }
  });
}

template void ColumnMatrix::im2col<float>(const float*, int64_t, int64_t, int64_t, int64_t, float*,
                                          int64_t) const;
template void ColumnMatrix::im2col<double>(const double*, int64_t, int64_t, int64_t, int64_t,
                                           double*, int64_t) const;
template void ColumnMatrix::col2im_add<float>(const float*, int64_t, int64_t, int64_t,
                                              float*) const;
template void ColumnMatrix::col2im_add<double>(const double*, int64_t, int64_t, int64_t,
                                               double*) const;

}  // namespace graft::kernels::cpu
