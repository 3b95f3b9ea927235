#pragma once
// Reductions over raw contiguous buffers viewed as [outer, reduce, inner]. T is float or double.
// Float sums accumulate in double, so results do not depend on the thread count.
#include <cstdint>

#include "kernels/stream.h"

namespace graft::kernels::cpu {

// out[o * inner + i] = sum over r of x[(o * reduce + r) * inner + i].
template <typename T>
void sum_reduce(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out);

}  // namespace graft::kernels::cpu

namespace graft::kernels::cuda {

// The CUDA twin of cpu::sum_reduce. x and out are device pointers; the work is queued on `stream`
// and nothing waits for it. Sums accumulate in double, in an order fixed by the shape (no
// atomics), so results repeat bit for bit; float results match the CPU twin except where the two
// summation orders round to neighbouring floats. Throws std::invalid_argument on negative sizes or
// null pointers.
template <typename T>
void sum_reduce(const T* x, int64_t outer, int64_t reduce, int64_t inner, T* out, Stream stream);

}  // namespace graft::kernels::cuda
