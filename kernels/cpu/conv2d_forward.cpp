// conv2d forward as an implicit GEMM on the GEMM micro-kernel (kernels/cpu/gemm_kernels.h).
//
// Per group, y = w * columns (conv2d_im2col.h), the columns of all images side by side. The
// weights are packed once into the micro-kernel's A panels. The column matrix is never stored
// whole: the output columns are cut into tiles of a couple of hundred, and for each block of kc
// rows a tile gathers its columns from the input (through a few staging rows that stay in L1)
// into the micro-kernel's B panels (a block that stays in L2) before the micro-kernel sweeps the
// weights over it. This saves the separate im2col pass over memory and the GEMM's repacking of
// the columns and weights at every call.
//
// Tiles are independent, so threads split them. Every output element accumulates the same kc
// blocks in the same order whichever tile or thread computes it, so y does not depend on the
// thread count.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_depthwise.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "kernels/cpu/gemm_kernels.h"
#include "kernels/cpu/parallel.h"

namespace graft::kernels::cpu {
namespace {

using gemm_detail::Blocking;
using gemm_detail::Kernel;

// The micro-kernel's register tile (MR x NR) is a compile-time constant in this file so that the
// packing loops unroll into whole vector moves: the forward pass is instantiated per tile shape,
// and conv2d_forward picks the instantiation that matches the kernel's blocking.
template <int MR, int NR>
struct TileShape {
  static constexpr int kMr = MR, kNr = NR;
  static bool matches(const Blocking& bl) { return bl.mr == MR && bl.nr == NR; }
};
using AvxTile = TileShape<6, 16>;     // the portable and AVX2 float kernels
using Avx512Tile = TileShape<8, 32>;  // the AVX-512 float kernel
using DoubleTile = TileShape<6, 8>;

// gemm.cpp keeps its double kernel private; this is the same portable kernel and blocking.
const Kernel<double>& double_kernel() {
  static const Kernel<double> kernel{
      "portable", Blocking{DoubleTile::kMr, DoubleTile::kNr, 144, 128, 4080},
      gemm_detail::microkernel_portable<double, DoubleTile::kMr, DoubleTile::kNr>};
  return kernel;
}

// A tile's B block (kc x tile columns) should sit in L2 next to an mc x kc block of weights.
constexpr int64_t kTileBytes = 192 * 1024;
// Rows of the column matrix gathered per im2col call (their staging copy stays in L1).
constexpr int64_t kStagingRows = 16;

int64_t round_up(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// The micro-kernel loads B panels with aligned vector loads.
template <typename T>
std::unique_ptr<T[], FreeDeleter> aligned_buffer(int64_t count) {
  const size_t bytes = round_up(std::max<int64_t>(count, 1) * int64_t(sizeof(T)), 64);
  T* p = static_cast<T*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::bad_alloc();
  return std::unique_ptr<T[], FreeDeleter>(p);
}

// The forward problem in the micro-kernel's terms.
template <typename T>
struct Problem {
  const Conv2dGeometry& g;
  const Blocking& bl;
  const ColumnMatrix& matrix;
  int64_t m = 0;             // output channels per group: rows of C
  int64_t m_padded = 0;      // m rounded up to whole A panels
  int64_t depth = 0;         // column_rows(g): the reduction
  int64_t out_plane = 0;     // columns per image
  int64_t columns = 0;       // columns per group: batch * out_plane
  int64_t tile_columns = 0;  // a whole number of B panels, but for the last tile
  int64_t tiles = 0;         // per group
  int64_t row_blocks = 1;    // > 1 when there are too few tiles to go round the threads
};

// One work item: output rows [m0, m1) x columns [c0, c1) of one group.
struct TileWork {
  int64_t group, c0, c1, m0, m1;
};

template <typename T, int NR>
Problem<T> make_problem(const Conv2dGeometry& g, const Blocking& bl, const ColumnMatrix& matrix,
                        int threads) {
  Problem<T> pr{g, bl, matrix};
  pr.m = g.out_channels_per_group();
  pr.m_padded = round_up(pr.m, bl.mr);
  pr.depth = column_rows(g);
  pr.out_plane = g.out_h() * g.out_w();
  pr.columns = g.batch * pr.out_plane;
  const int64_t kc = std::max<int64_t>(1, std::min(bl.kc, pr.depth));
  const int64_t fitting = kTileBytes / (kc * int64_t(sizeof(T))) / NR * NR;
  pr.tile_columns = std::min(std::max<int64_t>(NR, fitting), std::max<int64_t>(pr.columns, 1));
  pr.tiles = (pr.columns + pr.tile_columns - 1) / pr.tile_columns;
  // Small problems (one image, small output) also split the output channels among threads.
  const int64_t items = g.groups * pr.tiles;
  if (items < threads) {
    pr.row_blocks =
        std::max<int64_t>(1, std::min((threads + items - 1) / items, pr.m_padded / bl.mr));
  }
  return pr;
}

// Packs every group's weights into A panels: the block of group `gr` covering depth [pc, pc + kc)
// starts at (gr * depth + pc) * m_padded, and in it the panel of rows [r, r + mr) at r * kc,
// stored panel[p * mr + i] (rows past m are zero).
template <typename T, int MR>
void pack_weights(const Problem<T>& pr, const T* w, T* packed) {
  const int64_t panels = pr.m_padded / MR;
  parallel_for(0, pr.g.groups * panels, 8, [&](int64_t first, int64_t last) {
    for (int64_t item = first; item < last; ++item) {
      const int64_t group = item / panels, r = item % panels * MR;
      const int64_t live = std::min<int64_t>(MR, pr.m - r);
      // The panel's rows; missing ones read a row of zeros.
      const T* rows[MR];
      const std::vector<T> zeros(live < MR ? pr.depth : 0, T(0));
      for (int i = 0; i < MR; ++i) {
        rows[i] = i < live ? w + (group * pr.m + r + i) * pr.depth : zeros.data();
      }
      for (int64_t pc = 0; pc < pr.depth; pc += pr.bl.kc) {
        const int64_t kc = std::min(pr.bl.kc, pr.depth - pc);
        T* panel = packed + (group * pr.depth + pc) * pr.m_padded + r * kc;
        for (int64_t p = 0; p < kc; ++p) {
          for (int i = 0; i < MR; ++i) panel[p * MR + i] = rows[i][pc + p];
        }
      }
    }
  });
}

// Copies one row of n column-matrix values into the B panels at dst (panel q at dst + q*kc*NR),
// zero-filling the last panel past n.
template <typename T, int NR>
void spread_row(const T* src, int64_t n, int64_t kc, T* dst) {
  int64_t q = 0;
  for (; q + NR <= n; q += NR, dst += kc * NR) {
    for (int j = 0; j < NR; ++j) dst[j] = src[q + j];
  }
  if (q < n) {
    for (int j = 0; j < NR; ++j) dst[j] = q + j < n ? src[q + j] : T(0);
  }
}

// Gathers rows [p0, p1) x columns [c0, c1) of one group's batch-wide column matrix into B panels:
// panel q (columns c0 + q*NR ...) at dst + q * kc * NR, stored panel[(p - p0) * NR + j].
// x_group points at the group's first channel in image 0; staging holds kStagingRows x n.
template <typename T, int NR>
void pack_tile(const Problem<T>& pr, const T* x_group, int64_t c0, int64_t c1, int64_t p0,
               int64_t p1, T* staging, T* dst) {
  const Conv2dGeometry& g = pr.g;
  const int64_t n = c1 - c0, kc = p1 - p0;
  const int64_t in_plane = g.in_h * g.in_w, image_stride = g.in_channels * in_plane;
  const int64_t first_image = c0 / pr.out_plane;
  if (is_pointwise(g) && (c1 - 1) / pr.out_plane == first_image) {
    // The column matrix is the input itself: spread its rows directly.
    const T* x_rows = x_group + first_image * image_stride + (c0 - first_image * pr.out_plane);
    for (int64_t p = p0; p < p1; ++p) {
      spread_row<T, NR>(x_rows + p * in_plane, n, kc, dst + (p - p0) * NR);
    }
    return;
  }
  for (int64_t s0 = p0; s0 < p1; s0 += kStagingRows) {
    const int64_t s1 = std::min(s0 + kStagingRows, p1);
    // Stage rows [s0, s1) of the tile, image by image, then spread them into the panels.
    for (int64_t b = first_image; b * pr.out_plane < c1; ++b) {
      const int64_t n0 = std::max(c0, b * pr.out_plane) - b * pr.out_plane;
      const int64_t n1 = std::min(c1, (b + 1) * pr.out_plane) - b * pr.out_plane;
      const T* x_image = x_group + b * image_stride;
      pr.matrix.im2col(x_image, s0, s1, n0, n1, staging + (b * pr.out_plane + n0 - c0), n);
    }
    for (int64_t p = s0; p < s1; ++p) {
      spread_row<T, NR>(staging + (p - s0) * n, n, kc, dst + (p - p0) * NR);
    }
  }
}

// Per-thread scratch: the tile's B panels, the staging rows, and the C block of tiles that
// straddle images (they cannot be written into y with a single row stride).
template <typename T>
struct TileBuffers {
  std::unique_ptr<T[], FreeDeleter> panels, staging, straddling_c;
};

// Work item `item`: items run over groups, then tiles, then row blocks.
template <typename T>
TileWork tile_work(const Problem<T>& pr, int64_t item) {
  const int64_t row_block = item % pr.row_blocks, tile = item / pr.row_blocks % pr.tiles;
  const int64_t panels = pr.m_padded / pr.bl.mr;
  TileWork work;
  work.group = item / pr.row_blocks / pr.tiles;
  work.c0 = tile * pr.tile_columns;
  work.c1 = std::min(work.c0 + pr.tile_columns, pr.columns);
  work.m0 = panels * row_block / pr.row_blocks * pr.bl.mr;
  work.m1 = std::min(panels * (row_block + 1) / pr.row_blocks * pr.bl.mr, pr.m);
  return work;
}

// Computes one work item of the output: y (+ bias).
template <typename T, int NR>
void forward_tile(const Problem<T>& pr, const Kernel<T>& kernel, const T* packed_w, const T* x,
                  const T* bias, T* y, const TileWork& work, TileBuffers<T>& buf) {
  const Conv2dGeometry& g = pr.g;
  const Blocking& bl = pr.bl;
  const int64_t group = work.group, c0 = work.c0, c1 = work.c1, m0 = work.m0, m1 = work.m1;
  const int64_t n = c1 - c0;
  const int64_t in_plane = g.in_h * g.in_w;
  const T* x_group = x + group * g.in_channels_per_group() * in_plane;
  const int64_t image = c0 / pr.out_plane;
  const bool straddles = (c1 - 1) / pr.out_plane != image;

  // Where the micro-kernel writes: y itself, or a scratch block when the tile straddles images.
  T* c;
  int64_t ldc;
  if (straddles) {
    if (!buf.straddling_c) buf.straddling_c = aligned_buffer<T>(pr.m * pr.tile_columns);
    c = buf.straddling_c.get(), ldc = n;
  } else {
    c = y + (image * g.out_channels + group * pr.m) * pr.out_plane + (c0 - image * pr.out_plane);
    ldc = pr.out_plane;
  }

  for (int64_t pc = 0; pc < pr.depth; pc += bl.kc) {
    const int64_t kc = std::min(bl.kc, pr.depth - pc);
    pack_tile<T, NR>(pr, x_group, c0, c1, pc, pc + kc, buf.staging.get(), buf.panels.get());
    const T* a_block = packed_w + (group * pr.depth + pc) * pr.m_padded;
    const T beta = pc == 0 ? T(0) : T(1);
    for (int64_t ic = m0; ic < m1; ic += bl.mc) {
      const int64_t ic_end = std::min(ic + bl.mc, m1);
      for (int64_t jr = 0; jr < n; jr += NR) {
        const int nr = static_cast<int>(std::min<int64_t>(NR, n - jr));
        const T* b_panel = buf.panels.get() + jr * kc;
        for (int64_t ir = ic; ir < ic_end; ir += bl.mr) {
          const int mr = static_cast<int>(std::min<int64_t>(bl.mr, m1 - ir));
          kernel.run(kc, a_block + ir * kc, b_panel, c + ir * ldc + jr, ldc, T(1), beta, mr, nr);
        }
      }
    }
  }

  const T* bias_group = bias ? bias + group * pr.m : nullptr;
  if (!straddles) {
    if (bias_group) {
      for (int64_t r = m0; r < m1; ++r) {
        for (int64_t k = 0; k < n; ++k) c[r * ldc + k] += bias_group[r];
      }
    }
    return;
  }
  // Scatter the straddling block into each image's rows.
  for (int64_t b = image; b * pr.out_plane < c1; ++b) {
    const int64_t n0 = std::max(c0, b * pr.out_plane), n1 = std::min(c1, (b + 1) * pr.out_plane);
    T* y_rows = y + (b * g.out_channels + group * pr.m) * pr.out_plane + (n0 - b * pr.out_plane);
    for (int64_t r = m0; r < m1; ++r) {
      const T add = bias_group ? bias_group[r] : T(0);
      const T* from = c + r * ldc + (n0 - c0);
      for (int64_t k = 0; k < n1 - n0; ++k) y_rows[r * pr.out_plane + k] = from[k] + add;
    }
  }
}

// The forward pass with an MR x NR micro-kernel.
template <typename T, int MR, int NR>
void forward_with(const Conv2dGeometry& g, const Kernel<T>& kernel, const T* x, const T* w, const T* bias, T* y) {
  const ColumnMatrix matrix(g);
  const Problem<T> pr = make_problem<T, NR>(g, kernel.blocking, matrix, num_threads());
  if (pr.columns == 0) return;

  const auto packed_w = aligned_buffer<T>(g.groups * pr.depth * pr.m_padded);
  pack_weights<T, MR>(pr, w, packed_w.get());

  parallel_for(0, g.groups * pr.tiles * pr.row_blocks, 1, [&](int64_t first, int64_t last) {
    TileBuffers<T> buf;
    buf.panels = aligned_buffer<T>(std::min(pr.bl.kc, pr.depth) * round_up(pr.tile_columns, NR));
    buf.staging = aligned_buffer<T>(kStagingRows * pr.tile_columns);
    for (int64_t item = first; item < last; ++item) {
      forward_tile<T, NR>(pr, kernel, packed_w.get(), x, bias, y, tile_work(pr, item), buf);
    }
  });
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  if (g.in_channels_per_group() == 1) return depthwise_forward(g, x, w, bias, y);
  if constexpr (std::is_same_v<T, double>) {
    return forward_with<T, DoubleTile::kMr, DoubleTile::kNr>(g, double_kernel(), x, w, bias, y);
  } else {
    const Kernel<float>& kernel = gemm_detail::sgemm_kernel(gemm_detail::active_sgemm_isa());
    if (Avx512Tile::matches(kernel.blocking)) {
      return forward_with<T, Avx512Tile::kMr, Avx512Tile::kNr>(g, kernel, x, w, bias, y);
    }
    if (AvxTile::matches(kernel.blocking)) {
      return forward_with<T, AvxTile::kMr, AvxTile::kNr>(g, kernel, x, w, bias, y);
    }
    throw std::logic_error(std::string("conv2d_forward: no instantiation for the ") + kernel.name +
                           " micro-kernel's tile shape");
  }
}

template void conv2d_forward<float>(const Conv2dGeometry&, const float*, const float*, const float*,
                                    float*);
template void conv2d_forward<double>(const Conv2dGeometry&, const double*, const double*,
                                     const double*, double*);

}  // namespace graft::kernels::cpu
