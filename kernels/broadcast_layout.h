#pragma once
// The geometry of a broadcast binary op, shared by the CPU and CUDA kernels: size-1 dims dropped
// and neighbouring dims merged wherever both operands step through them as one run (e.g. a
// contiguous operand against a per-channel one becomes [n, c, h*w] with strides
// a = [c*hw, hw, 1], b = [0, 1, 0]). Outermost dim first.
#include <cstdint>

#include "kernels/elementwise.h"

namespace graft::kernels {

struct BroadcastLayout {
  int ndim = 0;
  int64_t shape[cpu::kMaxDims] = {};
  int64_t a[cpu::kMaxDims] = {};
  int64_t b[cpu::kMaxDims] = {};
};

inline BroadcastLayout coalesce_broadcast(int ndim, const int64_t* shape, const int64_t* a_strides,
                                          const int64_t* b_strides) {
  BroadcastLayout l;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    const int last = l.ndim - 1;
    if (last >= 0 && l.a[last] == a_strides[d] * shape[d] && l.b[last] == b_strides[d] * shape[d]) {
      l.shape[last] *= shape[d];
      l.a[last] = a_strides[d];
      l.b[last] = b_strides[d];
    } else {
      l.shape[l.ndim] = shape[d];
      l.a[l.ndim] = a_strides[d];
      l.b[l.ndim] = b_strides[d];
      ++l.ndim;
    }
  }
  if (l.ndim == 0) {  // every dim has size 1: one element
    l.ndim = 1;
    l.shape[0] = 1;
  }
  return l;
}

}  // namespace graft::kernels
