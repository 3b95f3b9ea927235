#pragma once
// How the GEMM-based convolution passes (the weight gradient, and the input gradient of strided
// convolutions) cut a batch into GEMM calls and spread them over threads.
//
// Per group, the work is a product whose columns are the output positions of every image. The
// batch is cut into units, consecutive runs of images that one thread handles from start to end:
//  - a large image is a unit of its own, processed as `parts_per_image` column tiles in order, so
//    each tile's column matrix stays in cache between im2col and the GEMM;
//  - small images (late ResNet stages: 7x7 outputs) are grouped, their columns side by side, so
//    one GEMM gets enough columns to be efficient.
// With enough units, threads take whole units (each its own buffers, single-threaded GEMMs);
// otherwise units run in sequence and each GEMM uses the threads. The plan depends only on the
// geometry and the thread count, so results are reproducible for a given thread count.
#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/cpu/parallel.h"

namespace graft::kernels::cpu {

struct ConvTiling {
  int64_t batch = 1;
  int64_t columns_per_image = 1;  // out_h * out_w
  int64_t units = 1;
  int64_t parts_per_image = 1;  // > 1 only when every unit is one image
  int workers = 1;              // threads that take units; 1: units in sequence, GEMMs threaded

  int64_t image_begin(int64_t unit) const { return batch * unit / units; }
  int64_t image_end(int64_t unit) const { return batch * (unit + 1) / units; }
  int64_t part_begin(int64_t part) const { return columns_per_image * part / parts_per_image; }
  int64_t part_end(int64_t part) const { return columns_per_image * (part + 1) / parts_per_image; }
  // The widest GEMM any unit issues (sizes the per-worker buffers).
  int64_t max_tile_columns() const;
};

// bytes_per_column: size of one column of the column matrix (rows * sizeof(T)).
ConvTiling plan_tiling(const Conv2dGeometry& g, int64_t bytes_per_column, int threads);

// Calls fn(worker, unit_begin, unit_end) once per worker, each worker on its own thread, the
// workers' unit ranges consecutive and in order.
template <class Fn>
void for_each_worker(const ConvTiling& t, Fn&& fn) {
  if (t.workers <= 1) return fn(0, int64_t{0}, t.units);
  parallel_for(0, t.workers, 1, [&](int64_t first, int64_t last) {
    for (int64_t w = first; w < last; ++w) {
      fn(static_cast<int>(w), t.units * w / t.workers, t.units * (w + 1) / t.workers);
    }
  });
}

}  // namespace graft::kernels::cpu
