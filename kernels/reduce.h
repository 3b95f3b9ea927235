#pragma once
// Reductions over raw contiguous buffers viewed as [outer, reduce, inner]. T is float or double.
// Float sums accumulate in double, so results do not depend on the thread count.
#include <cstdint>

namespace graft::kernels::cpu {

// out[o * inner + i] = sum over r of x[(o * reduce + r) * inner + i].
template <typename T>
void sum_reduce(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out);

}  // namespace graft::kernels::cpu
