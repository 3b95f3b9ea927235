// Strided copies on the GPU: a strided view to contiguous memory (gather, what contiguous() needs)
// and back (scatter, what copy_ into a view needs). Both walk the contiguous side in order, so
// that side's accesses coalesce, and find the strided side's offset with the broadcast walk
// (kernels/cuda/broadcast_walk.cuh). Elements are moved as unsigned integers of their size: the
// bytes are copied, never interpreted.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/broadcast_layout.h"
#include "kernels/copy.h"
#include "kernels/cuda/broadcast_walk.cuh"
#include "kernels/cuda/launch.cuh"

namespace graft::kernels::cuda {
namespace {

static_assert(kMaxStridedDims == cpu::kMaxDims, "the walk holds kMaxDims dims");

template <bool kGather, typename E, typename Index, typename Divider>
__global__ void strided_copy_kernel(const BroadcastWalk<Divider> walk, const E* src, E* dst, Index total) {
  const Index stride = Index(gridDim.x) * Index(blockDim.x);
  for (Index i = Index(blockIdx.x) * Index(blockDim.x) + threadIdx.x; i < total; i += stride) {
    int64_t strided, unused;
    walk_offsets(walk, i, strided, unused);
    if constexpr (kGather) {
      dst[i] = src[strided];
    } else {
      dst[strided] = src[i];
    }
  }
}

template <bool kGather, typename E>
void launch_strided_copy(const BroadcastLayout& l, int64_t total, const void* src, void* dst, cudaStream_t stream) {
  const E* s = static_cast<const E*>(src);
  E* d = static_cast<E*>(dst);
  const int blocks = grid_stride_blocks(total);
  if (total <= INT32_MAX) {
    strided_copy_kernel<kGather><<<blocks, kBlockThreads, 0, stream>>>(make_walk<FastDivmod>(l), s, d,
                                                                        uint32_t(total));
  } else {
    strided_copy_kernel<kGather><<<blocks, kBlockThreads, 0, stream>>>(make_walk<WideDivider>(l), s, d, total);
  }
}

template <bool kGather>
void strided_copy(const char* kernel, const void* src, int ndim, const int64_t* shape, const int64_t* strides,
                  size_t elem_size, void* dst, cudaStream_t stream) {
  if (ndim < 0 || ndim > kMaxStridedDims)
    throw std::invalid_argument(std::string(kernel) + ": ndim must be in [0, " + std::to_string(kMaxStridedDims) +
                                "], got " + std::to_string(ndim));
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    check_sizes_not_negative(kernel, {shape[d]});
    total *= shape[d];
  }
  if (total == 0) return;
  check_not_null(kernel, {src, dst});
  // The second operand of the layout is the contiguous side: it merges wherever the strided side
  // does, so the walk's dims are those of the strided view, coalesced.
  int64_t contiguous[kMaxStridedDims] = {};
  for (int d = ndim - 1, step = 1; d >= 0; --d) {
    contiguous[d] = step;
    step *= shape[d];
  }
  const BroadcastLayout l = coalesce_broadcast(ndim, shape, strides, contiguous);
  switch (elem_size) {
    case 1: launch_strided_copy<kGather, uint8_t>(l, total, src, dst, stream); break;
    case 2: launch_strided_copy<kGather, uint16_t>(l, total, src, dst, stream); break;
    case 4: launch_strided_copy<kGather, uint32_t>(l, total, src, dst, stream); break;
    case 8: launch_strided_copy<kGather, uint64_t>(l, total, src, dst, stream); break;
    default:
      throw std::invalid_argument(std::string(kernel) + ": elem_size must be 1, 2, 4 or 8 bytes, got " +
                                  std::to_string(elem_size));
  }
  check_launch(kernel);
}

}  // namespace

void gather_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides, size_t elem_size,
                    void* dst, Stream stream) {
  strided_copy<true>("graft::kernels::cuda::gather_strided", src, ndim, shape, strides, elem_size, dst, stream);
}

void scatter_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides, size_t elem_size,
                     void* dst, Stream stream) {
  strided_copy<false>("graft::kernels::cuda::scatter_strided", src, ndim, shape, strides, elem_size, dst, stream);
}

}  // namespace graft::kernels::cuda
