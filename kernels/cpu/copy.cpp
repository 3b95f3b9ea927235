#include "kernels/copy.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace graft::kernels::cpu {
namespace {

// Walks every index of `shape` in row-major order, calling move(contiguous_offset, strided_offset)
// for runs of the innermost dimension. Rows are split across threads.
template <class Move>
void walk_rows(int ndim, const int64_t* shape, const int64_t* strides, Move&& move) {
  if (ndim == 0) {
    move(0, 0, 1, 1);
    return;
  }
  const int64_t inner = shape[ndim - 1];
  const int64_t inner_stride = strides[ndim - 1];
  int64_t rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= shape[d];
  if (rows == 0 || inner == 0) return;
  parallel_for(0, rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rest = row, offset = 0;
      for (int d = ndim - 2; d >= 0; --d) {
        offset += (rest % shape[d]) * strides[d];
        rest /= shape[d];
      }
      move(row * inner, offset, inner, inner_stride);
    }
  });
}

template <class E>
void gather_typed(const E* src, int ndim, const int64_t* shape, const int64_t* strides, E* dst) {
  walk_rows(ndim, shape, strides, [&](int64_t out, int64_t in, int64_t n, int64_t stride) {
    if (stride == 1) {
      std::memcpy(dst + out, src + in, n * sizeof(E));
    } else {
      for (int64_t i = 0; i < n; ++i) dst[out + i] = src[in + i * stride];
    }
  });
}

template <class E>
void scatter_typed(const E* src, int ndim, const int64_t* shape, const int64_t* strides, E* dst) {
  walk_rows(ndim, shape, strides, [&](int64_t in, int64_t out, int64_t n, int64_t stride) {
    if (stride == 1) {
      std::memcpy(dst + out, src + in, n * sizeof(E));
    } else {
      for (int64_t i = 0; i < n; ++i) dst[out + i * stride] = src[in + i];
    }
  });
}

template <class Fn>
void by_size(size_t elem_size, Fn&& fn) {
  switch (elem_size) {
    case 1: return fn(uint8_t{});
    case 2: return fn(uint16_t{});
    case 4: return fn(uint32_t{});
    default: return fn(uint64_t{});
  }
}

}  // namespace

void gather_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides,
                    size_t elem_size, void* dst) {
  by_size(elem_size, [&](auto e) {
    using E = decltype(e);
    gather_typed(static_cast<const E*>(src), ndim, shape, strides, static_cast<E*>(dst));
  });
}

void scatter_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides,
                     size_t elem_size, void* dst) {
  by_size(elem_size, [&](auto e) {
    using E = decltype(e);
    scatter_typed(static_cast<const E*>(src), ndim, shape, strides, static_cast<E*>(dst));
  });
}

}  // namespace graft::kernels::cpu
