// CPU GEMM in the BLIS/GotoBLAS style. For each kc x nc block of op(B) (packed into NR-column
// panels) and each mc x kc block of op(A) (packed into MR-row panels), a micro-kernel computes
// every MR x NR tile of C from one A panel and one B panel. Packing reads A and B once per block
// whatever their transposition and leading dimension, so the micro-kernel only sees contiguous,
// aligned, zero-padded panels. Threads each take a rectangle of C and run the whole scheme on it.
#include "kernels/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "kernels/cpu/gemm_kernels.h"
#include "kernels/cpu/parallel.h"

namespace graft::kernels::cpu {
namespace gemm_detail {
namespace {

// Zen 3 (32 KiB L1d, 512 KiB L2 per core), 6 x 8 double tile: half the float kernels' kc keeps the
// 144-row A block at 144 KiB and the panels in L1.
constexpr Blocking kDgemmBlocking{6, 8, 144, 128, 4080};
const Kernel<double> kDgemmPortable{"portable", kDgemmBlocking, microkernel_portable<double, 6, 8>};

// Below this many multiply-adds (about 64^3), starting threads costs more than it saves.
constexpr double kMinParallelWork = 1 << 18;

template <class T>
struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  T alpha;
  const T* a;
  int64_t lda;
  const T* b;
  int64_t ldb;
  T beta;
  T* c;
  int64_t ldc;
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Per-thread packing buffer, 64-byte aligned, grown on demand and kept for the next call. Its
// size is bounded by the blocking (a few MiB), whatever the problem size.
template <class T, int Slot>
T* thread_buffer(int64_t count) {
  thread_local std::unique_ptr<T, FreeDeleter> buffer;
  thread_local int64_t capacity = 0;
  if (count > capacity) {
    const size_t bytes = (static_cast<size_t>(count) * sizeof(T) + 63) / 64 * 64;
    buffer.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
    if (!buffer) throw std::bad_alloc();
    capacity = count;
  }
  return buffer.get();
}

// Packs a panel's `live` rows, which run along the depth, with the AVX2 transpose where it applies
// (a kernel that allows it, float rows that are contiguous, panels a whole number of 8-row blocks);
// returns false, packing nothing, elsewhere.
template <class T>
bool pack_rows_in_registers(bool avx2_packing, const T* src, int64_t row_stride, int64_t depth_stride, int live,
                            int64_t depth, int width, T* dst) {
  if constexpr (std::is_same_v<T, float>) {
    if (avx2_packing && depth_stride == 1 && width % 8 == 0) {
      pack_rows_transposed_avx2(src, row_stride, live, depth, width, dst);
      return true;
    }
  }
  return false;
}

// Packs `rows` x `depth` of a matrix into panels of `width` rows, each stored depth-major:
// panel[p * width + r] = src[r * row_stride + p * depth_stride]; short panels are zero-padded.
// `avx2_packing`: the kernel's Kernel::avx2_packing.
// Packing A uses rows = m; packing B uses rows = n (B's columns), so one routine serves both.
template <class T>
void pack_panels(bool avx2_packing, const T* src, int64_t row_stride, int64_t depth_stride, int64_t rows,
                 int64_t depth, int width, T* dst) {
  for (int64_t r0 = 0; r0 < rows; r0 += width) {
    const int live = static_cast<int>(std::min<int64_t>(width, rows - r0));
    const T* panel_src = src + r0 * row_stride;
    if (row_stride == 1) {
      // The rows of a panel are contiguous in memory at each p: copy runs of `live`.
      for (int64_t p = 0; p < depth; ++p) {
        const T* s = panel_src + p * depth_stride;
        T* d = dst + p * width;
        for (int r = 0; r < live; ++r) d[r] = s[r];
        for (int r = live; r < width; ++r) d[r] = T(0);
      }
    } else if (pack_rows_in_registers(avx2_packing, panel_src, row_stride, depth_stride, live, depth, width, dst)) {
      for (int r = live; r < width; ++r)
        for (int64_t p = 0; p < depth; ++p) dst[p * width + r] = T(0);
    } else {
      // Each row is contiguous along p: read it sequentially, write with stride `width`.
      for (int r = 0; r < live; ++r) {
        const T* s = panel_src + r * row_stride;
        for (int64_t p = 0; p < depth; ++p) dst[p * width + r] = s[p * depth_stride];
      }
      for (int r = live; r < width; ++r)
        for (int64_t p = 0; p < depth; ++p) dst[p * width + r] = T(0);
    }
    dst += depth * width;
  }
}

int64_t round_up(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// The blocked product restricted to rows [m0, m1) and columns [n0, n1) of C, on this thread.
template <class T>
void gemm_rectangle(const Kernel<T>& kernel, const Problem<T>& pr, int64_t m0, int64_t m1,
                    int64_t n0, int64_t n1) {
  const Blocking& bl = kernel.blocking;
  // Strides of op(A) along (row i, depth p) and of op(B) along (column j, depth p).
  const int64_t a_row = pr.trans_a ? 1 : pr.lda, a_depth = pr.trans_a ? pr.lda : 1;
  const int64_t b_col = pr.trans_b ? pr.ldb : 1, b_depth = pr.trans_b ? 1 : pr.ldb;

  const int64_t kc_max = std::min(bl.kc, pr.k);
  T* a_pack = thread_buffer<T, 0>(round_up(std::min(bl.mc, m1 - m0), bl.mr) * kc_max);
  T* b_pack = thread_buffer<T, 1>(round_up(std::min(bl.nc, n1 - n0), bl.nr) * kc_max);

  for (int64_t jc = n0; jc < n1; jc += bl.nc) {
    const int64_t nc = std::min(bl.nc, n1 - jc);
    for (int64_t pc = 0; pc < pr.k; pc += bl.kc) {
      const int64_t kc = std::min(bl.kc, pr.k - pc);
      pack_panels(kernel.avx2_packing, pr.b + jc * b_col + pc * b_depth, b_col, b_depth, nc, kc, bl.nr, b_pack);
      // Later depth blocks add onto what the first one wrote.
      const T beta = pc == 0 ? pr.beta : T(1);

      for (int64_t ic = m0; ic < m1; ic += bl.mc) {
        const int64_t mc = std::min(bl.mc, m1 - ic);
        pack_panels(kernel.avx2_packing, pr.a + ic * a_row + pc * a_depth, a_row, a_depth, mc, kc, bl.mr, a_pack);

        for (int64_t jr = 0; jr < nc; jr += bl.nr) {
          const int nr = static_cast<int>(std::min<int64_t>(bl.nr, nc - jr));
          const T* b_panel = b_pack + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += bl.mr) {
            const int mr = static_cast<int>(std::min<int64_t>(bl.mr, mc - ir));
            kernel.run(kc, a_pack + ir * kc, b_panel, pr.c + (ic + ir) * pr.ldc + jc + jr, pr.ldc,
                       pr.alpha, beta, mr, nr);
          }
        }
      }
    }
  }
}

// How the threads tile C: `rows` x `cols` rectangles, each a whole number of register tiles.
struct ThreadGrid {
  int rows, cols;
};

// Picks the grid that minimises each thread's packing (its rectangle's height plus width), using
// fewer threads when the problem is small or has fewer tiles than threads.
ThreadGrid plan_threads(int64_t m, int64_t n, int64_t k, const Blocking& bl, int threads) {
  if (double(m) * double(n) * double(k) < kMinParallelWork) return {1, 1};
  const int64_t row_tiles = (m + bl.mr - 1) / bl.mr, col_tiles = (n + bl.nr - 1) / bl.nr;
  for (int t = threads; t > 1; --t) {
    ThreadGrid best{0, 0};
    int64_t best_cost = 0;
    for (int rows = 1; rows <= t; ++rows) {
      const int cols = t / rows;
      if (rows * cols != t || rows > row_tiles || cols > col_tiles) continue;
      const int64_t cost = (m + rows - 1) / rows + (n + cols - 1) / cols;
      if (best.rows == 0 || cost < best_cost) best = {rows, cols}, best_cost = cost;
    }
    if (best.rows != 0) return best;
  }
  return {1, 1};
}

// Splits [0, extent) into `parts` ranges of whole tiles of size `tile`; returns part i's range.
std::pair<int64_t, int64_t> split(int64_t extent, int64_t tile, int parts, int i) {
  const int64_t tiles = (extent + tile - 1) / tile;
  const int64_t begin = tiles * i / parts * tile, end = tiles * (i + 1) / parts * tile;
  return {begin, std::min(end, extent)};
}

// C = beta * C, the whole product when k == 0 or alpha == 0 (A and B are then not read).
template <class T>
void scale(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) row[j] = beta == T(0) ? T(0) : beta * row[j];
  }
}

template <class T>
void gemm_blocked(const Kernel<T>& kernel, const Problem<T>& pr) {
  if (pr.m <= 0 || pr.n <= 0) return;
  if (pr.k <= 0 || pr.alpha == T(0)) return scale(pr.m, pr.n, pr.beta, pr.c, pr.ldc);
  const Blocking& bl = kernel.blocking;
  const ThreadGrid grid = plan_threads(pr.m, pr.n, pr.k, bl, num_threads());
  parallel_for(0, grid.rows * grid.cols, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      const auto [m0, m1] = split(pr.m, bl.mr, grid.rows, static_cast<int>(t / grid.cols));
      const auto [n0, n1] = split(pr.n, bl.nr, grid.cols, static_cast<int>(t % grid.cols));
      if (m0 < m1 && n0 < n1) gemm_rectangle(kernel, pr, m0, m1, n0, n1);
    }
  });
}

}  // namespace

void sgemm(SgemmIsa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  gemm_blocked(sgemm_kernel(isa),
               Problem<float>{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc});
}

}  // namespace gemm_detail

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_detail::sgemm(gemm_detail::active_sgemm_isa(), trans_a, trans_b, m, n, k, alpha, a, lda, b,
                     ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc) {
  gemm_detail::gemm_blocked(
      gemm_detail::kDgemmPortable,
      gemm_detail::Problem<double>{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc});
}

void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += av * bv;
      }
      float& out = c[i * ldc + j];
      const double scaled = double(alpha) * sum;
      out = static_cast<float>(beta == 0.0f ? scaled : scaled + double(beta) * out);
    }
  }
}

}  // namespace graft::kernels::cpu
