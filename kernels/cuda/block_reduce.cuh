#pragma once
// Warp and block reductions with a fixed combining order, so a sum does not depend on timing:
// the reductions in kernels/cuda/ use no floating-point atomics and are deterministic.

namespace graft::kernels::cuda {

constexpr unsigned kFullWarp = 0xffffffffu;
constexpr int kWarpSize = 32;

struct Plus {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return a + b;
  }
};

// torch.max's rule: NaN in either operand gives NaN.
struct NanPropagatingMax {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return (a > b || a != a) ? a : b;
  }
};

// Lane 0 receives the combination of v over the warp (a tree: lanes 0-15 take lanes 16-31, and so
// on). Every lane of the warp must call it.
template <typename V, typename Combine>
__device__ V warp_reduce(V v, Combine combine) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = combine(v, __shfl_down_sync(kFullWarp, v, offset));
  return v;
}

// warp_reduce, with lane 0's result handed to every lane.
template <typename V, typename Combine>
__device__ V warp_allreduce(V v, Combine combine) {
  return __shfl_sync(kFullWarp, warp_reduce(v, combine), 0);
}

// Every thread of a one-dimensional block (blockDim.x a multiple of 32) receives the combination
// of v over the block: warps reduce, then each thread combines the warp results in warp order.
// scratch is __shared__ storage for 32 values; consecutive calls may reuse it (the first barrier
// waits until the previous call's readers are done). Every thread of the block must call it.
template <typename V, typename Combine>
__device__ V block_allreduce(V v, Combine combine, V* scratch) {
  v = warp_reduce(v, combine);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  V total = scratch[0];
  for (int w = 1; w < warps; ++w) total = combine(total, scratch[w]);
  return total;
}

}  // namespace graft::kernels::cuda
