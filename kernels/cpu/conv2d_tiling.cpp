#include "kernels/cpu/conv2d_tiling.h"

#include <algorithm>

namespace graft::kernels::cpu {
namespace {

// A tile's column matrix should stay in the L2/L3 caches between im2col writing it and the GEMM
// reading it...
constexpr int64_t kTileBytes = int64_t{1} << 20;
// ...but a GEMM repacks its weight operand on every call, which pays off only over enough columns.
constexpr int64_t kMinTileColumns = 512;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Threads take units when the units split evenly enough among them (at worst 3 vs 2 per thread).
bool units_balance(int64_t units, int threads) {
  return units % threads == 0 || units >= 2 * threads;
}

}  // namespace

int64_t ConvTiling::max_tile_columns() const {
  if (units == batch) return ceil_div(columns_per_image, parts_per_image);
  return ceil_div(batch, units) * columns_per_image;
}

ConvTiling plan_tiling(const Conv2dGeometry& g, int64_t bytes_per_column, int threads) {
  ConvTiling t;
  t.batch = g.batch;
  t.columns_per_image = g.out_h() * g.out_w();
  const int64_t tile_columns =
      std::max(kMinTileColumns, kTileBytes / std::max<int64_t>(bytes_per_column, 1));

  if (t.columns_per_image >= tile_columns / 2 || g.batch == 1) {
    t.units = g.batch;
    t.parts_per_image = std::max<int64_t>(1, t.columns_per_image / tile_columns);
  } else {
    const int64_t images_per_unit = std::max<int64_t>(1, tile_columns / t.columns_per_image);
    t.units = ceil_div(g.batch, images_per_unit);
    // More, narrower units when that lets every thread take a share.
    if (t.units < threads && g.batch >= threads) t.units = threads;
    while (t.units < g.batch && !units_balance(t.units, threads)) ++t.units;
  }
  if (threads > 1 && t.units > 1 && units_balance(t.units, threads)) {
    t.workers = static_cast<int>(std::min<int64_t>(threads, t.units));
  }
  return t;
}

}  // namespace graft::kernels::cpu
