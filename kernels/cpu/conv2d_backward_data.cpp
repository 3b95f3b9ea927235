// conv2d input gradient. With stride 1 it is a forward convolution of dy with transposed,
// flipped weights (see is_transposable). Otherwise, as GEMMs: per group,
// d_columns = w_group^T * dy_group, then col2im adds each column entry back onto the input
// position it came from. A unit's images belong to one thread, so the scatter-adds never race
// and always run in the same order.
#include <algorithm>
#include <memory>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_depthwise.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/cpu/conv2d_tiling.h"
#include "kernels/cpu/parallel.h"
#include "kernels/gemm.h"

namespace graft::kernels::cpu {
namespace {

// The input gradient of one unit (a range of images), every group. col holds one tile's column
// gradient; wide holds the dy of a multi-image unit laid side by side.
template <typename T>
void backward_data_unit(const Conv2dGeometry& g, const ColumnMatrix& matrix, const ConvTiling& t,
                        int64_t unit, const T* dy, const T* w, T* dx, T* col, T* wide) {
  const int64_t b0 = t.image_begin(unit), images = t.image_end(unit) - b0;
  const int64_t in_plane = g.in_h * g.in_w, out_plane = t.columns_per_image;
  const int64_t rows = column_rows(g), in_cpg = g.in_channels_per_group();
  const int64_t m = g.out_channels_per_group();
  for (int64_t group = 0; group < g.groups; ++group) {
    T* dx_group = dx + (b0 * g.in_channels + group * in_cpg) * in_plane;
    const T* dy_group = dy + (b0 * g.out_channels + group * m) * out_plane;
    const T* w_group = w + group * m * rows;

    if (images == 1) {
      if (!is_pointwise(g)) std::fill(dx_group, dx_group + in_cpg * in_plane, T(0));
      for (int64_t part = 0; part < t.parts_per_image; ++part) {
        const int64_t n0 = t.part_begin(part), n = t.part_end(part) - n0;
        if (is_pointwise(g)) {
          gemm(true, false, rows, n, m, T(1), w_group, rows, dy_group + n0, out_plane, T(0),
               dx_group + n0, in_plane);
        } else {
          gemm(true, false, rows, n, m, T(1), w_group, rows, dy_group + n0, out_plane, T(0), col,
               n);
          matrix.col2im_add(col, n, n0, n0 + n, dx_group);
        }
      }
      continue;
    }

    // Several small images: their dy side by side, one GEMM, then each image's share scattered.
    const int64_t n = images * out_plane;
    gather_images(dy_group, g.out_channels * out_plane, images, m, out_plane, wide);
    gemm(true, false, rows, n, m, T(1), w_group, rows, wide, n, T(0), col, n);
    for (int64_t b = 0; b < images; ++b) {
      T* dx_image = dx_group + b * g.in_channels * in_plane;
      std::fill(dx_image, dx_image + in_cpg * in_plane, T(0));
      matrix.col2im_add(col + b * out_plane, n, 0, out_plane, dx_image);
    }
  }
}

// With stride 1 the input gradient is itself a convolution: of dy, with each group's weights
// transposed (in and out channels swapped) and flipped in space, padded by
// dilation * (kernel - 1) - pad. It then runs on the forward path, with no column matrix to
// scatter back. A padding wider than the kernel's reach would make that padding negative.
bool is_transposable(const Conv2dGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_h <= g.dilation_h * (g.kernel_h - 1) &&
         g.pad_w <= g.dilation_w * (g.kernel_w - 1);
}

Conv2dGeometry transposed_geometry(const Conv2dGeometry& g) {
  Conv2dGeometry t = g;
  t.in_channels = g.out_channels, t.out_channels = g.in_channels;
  t.in_h = g.out_h(), t.in_w = g.out_w();
  t.pad_h = g.dilation_h * (g.kernel_h - 1) - g.pad_h;
  t.pad_w = g.dilation_w * (g.kernel_w - 1) - g.pad_w;
  return t;
}

// w_t[gr * in_cpg + c][oc][i][j] = w[gr * out_cpg + oc][c][kernel_h - 1 - i][kernel_w - 1 - j].
// Threads split the rows of w_t, each written in order (a late ResNet layer's weights are 9 MB, as
// much time as the convolution itself when copied on one thread with scattered writes).
template <typename T>
void transpose_flip_weights(const Conv2dGeometry& g, const T* w, T* w_t) {
  const int64_t in_cpg = g.in_channels_per_group(), out_cpg = g.out_channels_per_group();
  const int64_t taps = g.kernel_h * g.kernel_w;
  parallel_for(0, g.groups * in_cpg, 16, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t group = row / in_cpg, c = row % in_cpg;
      T* to = w_t + row * out_cpg * taps;
      for (int64_t oc = 0; oc < out_cpg; ++oc) {
        const T* from = w + ((group * out_cpg + oc) * in_cpg + c) * taps;
        for (int64_t tap = 0; tap < taps; ++tap) to[oc * taps + tap] = from[taps - 1 - tap];
      }
    }
  });
}

}  // namespace

template <typename T>
void conv2d_backward_data(const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  if (g.in_channels_per_group() == 1) return depthwise_backward_data(g, dy, w, dx);
  if (is_transposable(g)) {
    const std::unique_ptr<T[]> w_t(new T[g.out_channels * column_rows(g)]);
    transpose_flip_weights(g, w, w_t.get());
    return conv2d_forward(transposed_geometry(g), dy, w_t.get(), static_cast<const T*>(nullptr),
                          dx);
  }
  const int64_t rows = column_rows(g);
  const ConvTiling t = plan_tiling(g, rows * int64_t(sizeof(T)), num_threads());
  const int64_t columns = t.max_tile_columns();
  const bool multi_image = t.units < t.batch;
  const ColumnMatrix matrix(g);
  for_each_worker(t, [&](int, int64_t unit_begin, int64_t unit_end) {
    const bool needs_col = multi_image || !is_pointwise(g);
    std::unique_ptr<T[]> col(needs_col ? new T[rows * columns] : nullptr);
    std::unique_ptr<T[]> wide(multi_image ? new T[g.out_channels_per_group() * columns] : nullptr);
    for (int64_t unit = unit_begin; unit < unit_end; ++unit) {
      backward_data_unit(g, matrix, t, unit, dy, w, dx, col.get(), wide.get());
    }
  });
}

template void conv2d_backward_data<float>(const Conv2dGeometry&, const float*, const float*,
                                          float*);
template void conv2d_backward_data<double>(const Conv2dGeometry&, const double*, const double*,
                                           double*);

}  // namespace graft::kernels::cpu
