#pragma once
// The elementwise loop shared by the light kernels: a grid-stride loop over 16-byte packs (when the
// caller found every pointer aligned), then over the elements after the last whole pack one at a
// time. An Op is a small struct of pointers and scalars, passed by value as the kernel argument:
//   static constexpr int kPack;            elements per pack (kPackSize<T>)
//   Loaded load(int64_t p) const;          reads the inputs of pack p
//   void store(int64_t p, const Loaded&);  computes and writes pack p
//   void one(int64_t i) const;             element i on its own
// Each thread loads kPacksInFlight packs before it stores any: outputs may alias inputs (in-place
// updates), so the compiler could not move a load above an earlier store by itself, and a thread
// would wait for one load at a time.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/launch.cuh"

namespace graft::kernels::cuda {

constexpr int kPacksInFlight = 2;

template <typename Op>
__global__ void map_kernel(Op op, int64_t n, int64_t packs) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t p = first; p < packs; p += kPacksInFlight * stride) {
    typename Op::Loaded in[kPacksInFlight];
#pragma unroll
    for (int u = 0; u < kPacksInFlight; ++u)
      if (p + u * stride < packs) in[u] = op.load(p + u * stride);
#pragma unroll
    for (int u = 0; u < kPacksInFlight; ++u)
      if (p + u * stride < packs) op.store(p + u * stride, in[u]);
  }
  for (int64_t i = packs * Op::kPack + first; i < n; i += stride) op.one(i);
}

// Queues op over n elements; `packed` says every pointer the op touches is 16-byte aligned.
template <typename Op>
void launch_map(const Op& op, int64_t n, bool packed, cudaStream_t stream, const char* kernel) {
  check_sizes_not_negative(kernel, {n});
  if (n == 0) return;
  const int64_t packs = packed ? n / Op::kPack : 0;
  const int64_t threads = std::max((packs + kPacksInFlight - 1) / kPacksInFlight, n - packs * Op::kPack);
  map_kernel<<<grid_stride_blocks(threads), kBlockThreads, 0, stream>>>(op, n, packs);
  check_launch(kernel);
}

}  // namespace graft::kernels::cuda
