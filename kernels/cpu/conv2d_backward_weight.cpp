// conv2d weight and bias gradients. Per group, dw_group = sum over tiles of dy_tile * columns^T.
// Each worker accumulates its units into its own buffer (worker 0 straight into dw); the buffers
// are then added in worker order, so the sum's order is fixed by the thread count alone.
#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_depthwise.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/cpu/conv2d_tiling.h"
#include "kernels/gemm.h"

namespace graft::kernels::cpu {
namespace {

// Adds one unit's (a range of images) weight gradient into dw_acc, or overwrites dw_acc when
// `first`. col holds one tile's column matrix; wide holds the dy of a multi-image unit laid side
// by side.
template <typename T>
void backward_weight_unit(const Conv2dGeometry& g, const ColumnMatrix& matrix, const ConvTiling& t,
                          int64_t unit, const T* x, const T* dy, T* dw_acc, bool first, T* col,
                          T* wide) {
  const int64_t b0 = t.image_begin(unit), images = t.image_end(unit) - b0;
  const int64_t in_plane = g.in_h * g.in_w, out_plane = t.columns_per_image;
  const int64_t rows = column_rows(g), in_cpg = g.in_channels_per_group();
  const int64_t m = g.out_channels_per_group();
  for (int64_t group = 0; group < g.groups; ++group) {
    const T* x_group = x + (b0 * g.in_channels + group * in_cpg) * in_plane;
    const T* dy_group = dy + (b0 * g.out_channels + group * m) * out_plane;
    T* dw_group = dw_acc + group * m * rows;

    if (images == 1) {
      for (int64_t part = 0; part < t.parts_per_image; ++part) {
        const int64_t n0 = t.part_begin(part), n = t.part_end(part) - n0;
        const T beta = first && part == 0 ? T(0) : T(1);
        if (is_pointwise(g)) {
          gemm(false, true, m, rows, n, T(1), dy_group + n0, out_plane, x_group + n0, in_plane,
               beta, dw_group, rows);
        } else {
          matrix.im2col(x_group, 0, rows, n0, n0 + n, col, n);
          gemm(false, true, m, rows, n, T(1), dy_group + n0, out_plane, col, n, beta, dw_group,
               rows);
        }
      }
      continue;
    }

    // Several small images: their columns and dy side by side, one GEMM.
    const int64_t n = images * out_plane;
    for (int64_t b = 0; b < images; ++b) {
      matrix.im2col(x_group + b * g.in_channels * in_plane, 0, rows, 0, out_plane,
                    col + b * out_plane, n);
    }
    gather_images(dy_group, g.out_channels * out_plane, images, m, out_plane, wide);
    gemm(false, true, m, rows, n, T(1), wide, n, col, n, first ? T(0) : T(1), dw_group, rows);
  }
}

// dw += partial[w] for w = 1, 2, ... in order; each element's sum has the same order whichever
// thread computes it.
template <typename T>
void add_partials(const std::vector<std::unique_ptr<T[]>>& partials, int64_t size, T* dw) {
  parallel_for(0, size, 1 << 14, [&](int64_t first, int64_t last) {
    for (size_t p = 1; p < partials.size(); ++p) {
      const T* part = partials[p].get();
      for (int64_t i = first; i < last; ++i) dw[i] += part[i];
    }
  });
}

// dbias[oc] = sum of dy over the batch and the output plane, in double, in a fixed order.
template <typename T>
void bias_gradient(const Conv2dGeometry& g, const T* dy, T* dbias) {
  constexpr int kLanes = 8;  // independent partial sums, so the loop vectorizes
  const int64_t plane = g.out_h() * g.out_w();
  parallel_for(0, g.out_channels, 1, [&](int64_t first, int64_t last) {
    for (int64_t oc = first; oc < last; ++oc) {
      double lanes[kLanes] = {};
      double tail = 0.0;
      for (int64_t b = 0; b < g.batch; ++b) {
        const T* row = dy + (b * g.out_channels + oc) * plane;
        int64_t n = 0;
        for (; n + kLanes <= plane; n += kLanes) {
          for (int l = 0; l < kLanes; ++l) lanes[l] += double(row[n + l]);
        }
        for (; n < plane; ++n) tail += double(row[n]);
      }
      double sum = tail;
      for (double lane : lanes) sum += lane;
      dbias[oc] = static_cast<T>(sum);
    }
  });
}

template <typename T>
void weight_gradient(const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t rows = column_rows(g);
  const int64_t weight_size = g.out_channels * rows;
  const ConvTiling t = plan_tiling(g, rows * int64_t(sizeof(T)), num_threads());
  const int64_t columns = t.max_tile_columns();
  const bool multi_image = t.units < t.batch;
  const ColumnMatrix matrix(g);

  std::vector<std::unique_ptr<T[]>> partials(t.workers);
  for (int w = 1; w < t.workers; ++w) partials[w].reset(new T[weight_size]);
  for_each_worker(t, [&](int worker, int64_t unit_begin, int64_t unit_end) {
    T* dw_acc = worker == 0 ? dw : partials[worker].get();
    if (unit_begin == unit_end) return std::fill(dw_acc, dw_acc + weight_size, T(0));  // batch 0
    const bool needs_col = multi_image || !is_pointwise(g);
    std::unique_ptr<T[]> col(needs_col ? new T[rows * columns] : nullptr);
    std::unique_ptr<T[]> wide(multi_image ? new T[g.out_channels_per_group() * columns] : nullptr);
    for (int64_t unit = unit_begin; unit < unit_end; ++unit) {
      backward_weight_unit(g, matrix, t, unit, x, dy, dw_acc, unit == unit_begin, col.get(),
                           wide.get());
    }
  });
  add_partials(partials, weight_size, dw);
}

}  // namespace

template <typename T>
void conv2d_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw, T* dbias) {
  if (g.in_channels_per_group() == 1) {
    depthwise_backward_weight(g, x, dy, dw);
  } else {
    weight_gradient(g, x, dy, dw);
  }
  if (dbias) bias_gradient(g, dy, dbias);
}

template void conv2d_backward_weight<float>(const Conv2dGeometry&, const float*, const float*,
                                            float*, float*);
template void conv2d_backward_weight<double>(const Conv2dGeometry&, const double*, const double*,
                                             double*, double*);

}  // namespace graft::kernels::cpu
