#pragma once
// A walk over every index of a coalesced broadcast geometry (kernels/broadcast_layout.h), giving
// each output element's offsets into two strided operands. The broadcast binary op reads its two
// inputs through it; the strided copies use its first operand as the strided side.
#include <cstdint>

#include "kernels/broadcast_layout.h"
#include "kernels/cuda/fast_divmod.cuh"

namespace graft::kernels::cuda {

// Divides 64-bit indices, for walks of 2^31 elements or more (FastDivmod covers the rest).
struct WideDivider {
  WideDivider() = default;
  explicit WideDivider(int64_t divisor) : value(divisor) {}
  int64_t value = 1;
  __device__ int64_t divisor() const { return value; }
  __device__ int64_t divide(int64_t n) const { return n / value; }
};

// The walk's geometry as a kernel argument, innermost dim first.
template <typename Divider>
struct BroadcastWalk {
  int ndim;
  Divider sizes[cpu::kMaxDims];
  int64_t a_strides[cpu::kMaxDims];
  int64_t b_strides[cpu::kMaxDims];
};

template <typename Divider>
BroadcastWalk<Divider> make_walk(const BroadcastLayout& l) {
  BroadcastWalk<Divider> walk{};
  walk.ndim = l.ndim;
  for (int d = 0; d < l.ndim; ++d) {
    const int from = l.ndim - 1 - d;
    walk.sizes[d] = Divider(l.shape[from]);
    walk.a_strides[d] = l.a[from];
    walk.b_strides[d] = l.b[from];
  }
  return walk;
}

// The offsets of element i (row-major over the walk's shape) in the two operands. Index is
// uint32_t below 2^31 elements (with FastDivmod), else int64_t. The loop is unrolled so that the
// argument arrays are indexed by constants.
template <typename Index, typename Divider>
__device__ inline void walk_offsets(const BroadcastWalk<Divider>& walk, Index i, int64_t& a_offset,
                                    int64_t& b_offset) {
  a_offset = 0;
  b_offset = 0;
  Index rest = i;
#pragma unroll
  for (int d = 0; d < cpu::kMaxDims; ++d) {
    if (d == walk.ndim - 1) {  // the outermost dim: rest is its index
      a_offset += int64_t(rest) * walk.a_strides[d];
      b_offset += int64_t(rest) * walk.b_strides[d];
      break;
    }
    const Index quotient = walk.sizes[d].divide(rest);
    const Index index = rest - quotient * Index(walk.sizes[d].divisor());
    a_offset += int64_t(index) * walk.a_strides[d];
    b_offset += int64_t(index) * walk.b_strides[d];
    rest = quotient;
  }
}

}  // namespace graft::kernels::cuda
