// The second pass of the split-depth convolutions (kernels/cuda/conv2d_tile.cuh): each split
// wrote its partial product to scratch memory; one thread per element of C adds the splits in
// order and writes the sum (plus bias) to its place in the destination tensor. No atomics: the
// order of the additions is fixed, so results repeat bit for bit.
#include "kernels/cuda/conv2d_tile.cuh"

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

namespace graft::kernels::cuda::conv2d_tile {
namespace {

constexpr int kReduceThreads = 256;
constexpr int64_t kMaxGridYZ = 65535;

// Block (x, y, z): columns x * 256 + threadIdx.x (and every gridDim.x * 256 after), rows y, y +
// gridDim.y, ..., group z.
__global__ void __launch_bounds__(kReduceThreads)
    reduce_splits_kernel(const float* partial, int64_t splits, int64_t rows, int64_t columns, OutputMap out) {
  const int64_t group = blockIdx.z;
  const int64_t plane = rows * columns;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const float add = out.bias != nullptr ? out.bias[group * rows + row] : 0.0f;
    float* dst_row = out.dst + group * out.group_stride + row * out.channel_stride;
    for (int64_t j = int64_t(blockIdx.x) * kReduceThreads + threadIdx.x; j < columns;
         j += int64_t(gridDim.x) * kReduceThreads) {
      const float* p = partial + group * splits * plane + row * columns + j;
      float sum = p[0];
      for (int64_t s = 1; s < splits; ++s) sum += p[s * plane];
      dst_row[out.column_offset(static_cast<uint32_t>(j))] = sum + add;
    }
  }
}

int multiprocessors() {
  int device = 0, count = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();  // leave no error behind: the launch itself reports a missing device
    count = 132;         // an H100's count; only the speed depends on it
  }
  return count;
}

}  // namespace

void check_launch(const char* who) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(who) + ": CUDA kernel launch failed: " + cudaGetErrorString(status));
}

Split plan_split(int64_t tiles, int64_t depth, int threads_per_block, int64_t min_depth) {
  const int64_t slots = int64_t(multiprocessors()) * (2048 / threads_per_block) / 4;  // 512 threads an SM
  Split split;
  split.count = std::clamp<int64_t>(slots / std::max<int64_t>(tiles, 1), 1, kMaxGridYZ);
  split.count = std::min(split.count, std::max<int64_t>(depth / std::max<int64_t>(min_depth, 1), 1));
  const int64_t per_split = (depth + split.count - 1) / split.count;
  split.depth_per_split = std::max<int64_t>((per_split + kDepth - 1) / kDepth * kDepth, kDepth);
  split.count = std::max<int64_t>((depth + split.depth_per_split - 1) / split.depth_per_split, 1);
  return split;
}

void reduce_splits(const float* partial, int64_t splits, int64_t groups, int64_t rows, int64_t columns,
                   const OutputMap& out, Stream stream, const char* who) {
  if (groups == 0 || rows == 0 || columns == 0) return;
  const int64_t column_blocks = std::min<int64_t>((columns + kReduceThreads - 1) / kReduceThreads, INT_MAX);
  // Enough blocks to fill the GPU a few times over; each loops over what remains.
  const int64_t row_blocks = std::clamp<int64_t>(int64_t(multiprocessors()) * 8 / column_blocks, 1,
                                                 std::min(rows, kMaxGridYZ));
  const dim3 grid(static_cast<unsigned>(column_blocks), static_cast<unsigned>(row_blocks), static_cast<unsigned>(groups));
  reduce_splits_kernel<<<grid, kReduceThreads, 0, stream>>>(partial, splits, rows, columns, out);
  check_launch(who);
}

}  // namespace graft::kernels::cuda::conv2d_tile
