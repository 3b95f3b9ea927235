// log_softmax and cross entropy on the GPU, computed as the CPU twins do: the max in T, the sum of
// exp(x - max) in double, log_sum_exp = max + log(sum), y = T(x - log_sum_exp) (and the backward sums
// in double). Rows of an [outer, dim, inner] buffer are handled by
// - one warp per row when inner == 1 and dim <= kWarpRowMax (eight rows per block),
// - one block of kRowBlockThreads per row when inner == 1 and dim is larger,
// - one thread per (outer, inner) column otherwise, walking the column over dim in order
//   (neighbouring threads read neighbouring addresses).
// Warps and blocks combine their partial results in a fixed order (kernels/cuda/block_reduce.cuh),
// so results repeat bit for bit. The row is read again for each pass; a row of a warp or a block is
// small enough to come from the cache after the first.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/softmax.h"

namespace graft::kernels::cuda {
namespace {

constexpr int64_t kWarpRowMax = 1024;
constexpr int kRowBlockThreads = 512;
constexpr int kWarpsPerBlock = kBlockThreads / kWarpSize;

// The threads that share one row: a warp...
struct WarpRow {
  __device__ int rank() const { return threadIdx.x % kWarpSize; }
  __device__ int size() const { return kWarpSize; }
  template <typename V, typename Combine>
  __device__ V allreduce(V v, Combine combine) const {
    return warp_allreduce(v, combine);
  }
};

// ...or a whole block. Values travel through `scratch` as double, which holds a float exactly.
struct BlockRow {
  double* scratch;
  __device__ int rank() const { return threadIdx.x; }
  __device__ int size() const { return blockDim.x; }
  template <typename V, typename Combine>
  __device__ V allreduce(V v, Combine combine) const {
    return V(block_allreduce(double(v), combine, scratch));
  }
};

template <typename T, typename Row>
__device__ double log_sum_exp(const T* x, int64_t dim, const Row& row) {
  T row_max = T(-INFINITY);
  for (int64_t j = row.rank(); j < dim; j += row.size()) row_max = NanPropagatingMax{}(row_max, x[j]);
  row_max = row.allreduce(row_max, NanPropagatingMax{});
  double sum = 0;
  for (int64_t j = row.rank(); j < dim; j += row.size()) sum += exp(double(x[j] - row_max));
  sum = row.allreduce(sum, Plus{});
  return double(row_max) + log(sum);
}

template <typename T, typename Row>
__device__ void log_softmax_row(const T* x, int64_t dim, T* y, const Row& row) {
  const double lse = log_sum_exp(x, dim, row);
  for (int64_t j = row.rank(); j < dim; j += row.size()) y[j] = T(double(x[j]) - lse);
}

template <typename T, typename Row>
__device__ void log_softmax_backward_row(const T* dy, const T* y, int64_t dim, T* dx, const Row& row) {
  double sum = 0;
  for (int64_t j = row.rank(); j < dim; j += row.size()) sum += double(dy[j]);
  sum = row.allreduce(sum, Plus{});
  for (int64_t j = row.rank(); j < dim; j += row.size()) dx[j] = T(double(dy[j]) - exp(double(y[j])) * sum);
}

// Writes the row's log-probabilities and its loss (PyTorch's definition, as the CPU twin).
template <typename T, typename Row>
__device__ void cross_entropy_row(const T* logits, int64_t target, int64_t c, int64_t ignore_index, double smoothing,
                                  T* log_probs, T* loss, const Row& row) {
  const double lse = log_sum_exp(logits, c, row);
  double log_prob_sum = 0;
  for (int64_t j = row.rank(); j < c; j += row.size()) {
    const T log_prob = T(double(logits[j]) - lse);
    log_probs[j] = log_prob;
    log_prob_sum += double(log_prob);
  }
  if (smoothing != 0) log_prob_sum = row.allreduce(log_prob_sum, Plus{});
  if (row.rank() != 0) return;
  if (target == ignore_index) {
    *loss = T(0);
  } else if (target < 0 || target >= c) {
    *loss = T(NAN);
  } else {
    // The value written to log_probs[target] by whichever thread owns it, computed again here.
    double nll = -double(T(double(logits[target]) - lse));
    if (smoothing != 0) nll = (1 - smoothing) * nll + smoothing / double(c) * -log_prob_sum;
    *loss = T(nll);
  }
}

// The grid's warps take rows first_warp_row(), + warp_row_stride(), ...: a loop that is the same
// for every lane of a warp. Needs blocks of kBlockThreads threads.
__device__ int64_t first_warp_row() { return blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / kWarpSize; }
__device__ int64_t warp_row_stride() { return int64_t(gridDim.x) * kWarpsPerBlock; }

template <typename T>
__global__ void log_softmax_warp_rows_kernel(const T* x, int64_t rows, int64_t dim, T* y) {
  for (int64_t r = first_warp_row(); r < rows; r += warp_row_stride())
    log_softmax_row(x + r * dim, dim, y + r * dim, WarpRow{});
}

template <typename T>
__global__ void log_softmax_block_rows_kernel(const T* x, int64_t rows, int64_t dim, T* y) {
  __shared__ double scratch[kWarpSize];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
    log_softmax_row(x + r * dim, dim, y + r * dim, BlockRow{scratch});
}

template <typename T>
__global__ void log_softmax_backward_warp_rows_kernel(const T* dy, const T* y, int64_t rows, int64_t dim, T* dx) {
  for (int64_t r = first_warp_row(); r < rows; r += warp_row_stride())
    log_softmax_backward_row(dy + r * dim, y + r * dim, dim, dx + r * dim, WarpRow{});
}

template <typename T>
__global__ void log_softmax_backward_block_rows_kernel(const T* dy, const T* y, int64_t rows, int64_t dim, T* dx) {
  __shared__ double scratch[kWarpSize];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
    log_softmax_backward_row(dy + r * dim, y + r * dim, dim, dx + r * dim, BlockRow{scratch});
}

template <typename T>
__global__ void cross_entropy_warp_rows_kernel(const T* logits, const int64_t* target, int64_t n, int64_t c,
                                               int64_t ignore_index, double smoothing, T* log_probs, T* loss) {
  for (int64_t r = first_warp_row(); r < n; r += warp_row_stride())
    cross_entropy_row(logits + r * c, target[r], c, ignore_index, smoothing, log_probs + r * c, loss + r, WarpRow{});
}

template <typename T>
__global__ void cross_entropy_block_rows_kernel(const T* logits, const int64_t* target, int64_t n, int64_t c,
                                                int64_t ignore_index, double smoothing, T* log_probs, T* loss) {
  __shared__ double scratch[kWarpSize];
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x)
    cross_entropy_row(logits + r * c, target[r], c, ignore_index, smoothing, log_probs + r * c, loss + r,
                      BlockRow{scratch});
}

// One thread per column (o, i) of [outer, dim, inner]: element d of column j is at
// column_start(j) + d * inner.
__device__ int64_t column_start(int64_t j, int64_t dim, int64_t inner) { return j / inner * dim * inner + j % inner; }

template <typename T>
__global__ void log_softmax_columns_kernel(const T* x, int64_t outer, int64_t dim, int64_t inner, T* y) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < outer * inner;
       j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = column_start(j, dim, inner);
    const T* in = x + base;
    T row_max = in[0];
    for (int64_t d = 1; d < dim; ++d) row_max = NanPropagatingMax{}(row_max, in[d * inner]);
    double sum = 0;
    for (int64_t d = 0; d < dim; ++d) sum += exp(double(in[d * inner] - row_max));
    const double lse = double(row_max) + log(sum);
    for (int64_t d = 0; d < dim; ++d) y[base + d * inner] = T(double(in[d * inner]) - lse);
  }
}

template <typename T>
__global__ void log_softmax_backward_columns_kernel(const T* dy, const T* y, int64_t outer, int64_t dim, int64_t inner,
                                                    T* dx) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < outer * inner;
       j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = column_start(j, dim, inner);
    double sum = 0;
    for (int64_t d = 0; d < dim; ++d) sum += double(dy[base + d * inner]);
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t k = base + d * inner;
      dx[k] = T(double(dy[k]) - exp(double(y[k])) * sum);
    }
  }
}

// *count = the number of targets that are not ignore_index: one block, integer sums.
__global__ void count_not_ignored_kernel(const int64_t* target, int64_t n, int64_t ignore_index, int64_t* count) {
  __shared__ long long scratch[kWarpSize];
  long long k = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) k += target[i] != ignore_index ? 1 : 0;
  k = block_allreduce(k, Plus{}, scratch);
  if (threadIdx.x == 0) *count = k;
}

// One warp per sample: dlogits[i, j] = dloss[i] * (softmax[i, j] - s / c - (1 - s) [j == t_i]).
template <typename T>
__global__ void cross_entropy_backward_kernel(const T* log_probs, const int64_t* target, int64_t n, int64_t c,
                                              int64_t ignore_index, double smoothing, const T* dloss, T* dlogits) {
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t r = first_warp_row(); r < n; r += warp_row_stride()) {
    const int64_t t = target[r];
    const T* row = log_probs + r * c;
    T* grad = dlogits + r * c;
    if (t == ignore_index || t < 0 || t >= c) {
      const T value = t == ignore_index ? T(0) : T(NAN);
      for (int64_t j = lane; j < c; j += kWarpSize) grad[j] = value;
      continue;
    }
    const double scale = dloss[r];
    const double uniform = smoothing / double(c);
    for (int64_t j = lane; j < c; j += kWarpSize) {
      double g = exp(double(row[j])) - uniform;
      if (j == t) g -= 1 - smoothing;
      grad[j] = T(scale * g);
    }
  }
}

int warp_row_blocks(int64_t rows) { return blocks_for((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace

template <typename T>
void log_softmax_forward(const T* x, int64_t outer, int64_t dim, int64_t inner, T* y, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::log_softmax_forward";
  check_sizes_not_negative(kName, {outer, dim, inner});
  if (outer == 0 || dim == 0 || inner == 0) return;
  check_not_null(kName, {x, y});
  if (inner == 1 && dim <= kWarpRowMax) {
    log_softmax_warp_rows_kernel<<<warp_row_blocks(outer), kBlockThreads, 0, stream>>>(x, outer, dim, y);
  } else if (inner == 1) {
    log_softmax_block_rows_kernel<<<blocks_for(outer), kRowBlockThreads, 0, stream>>>(x, outer, dim, y);
  } else {
    const int blocks = grid_stride_blocks(outer * inner);
    log_softmax_columns_kernel<<<blocks, kBlockThreads, 0, stream>>>(x, outer, dim, inner, y);
  }
  check_launch(kName);
}

template <typename T>
void log_softmax_backward(const T* dy, const T* y, int64_t outer, int64_t dim, int64_t inner, T* dx, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::log_softmax_backward";
  check_sizes_not_negative(kName, {outer, dim, inner});
  if (outer == 0 || dim == 0 || inner == 0) return;
  check_not_null(kName, {dy, y, dx});
  if (inner == 1 && dim <= kWarpRowMax) {
    log_softmax_backward_warp_rows_kernel<<<warp_row_blocks(outer), kBlockThreads, 0, stream>>>(dy, y, outer, dim, dx);
  } else if (inner == 1) {
    log_softmax_backward_block_rows_kernel<<<blocks_for(outer), kRowBlockThreads, 0, stream>>>(dy, y, outer, dim, dx);
  } else {
    log_softmax_backward_columns_kernel<<<grid_stride_blocks(outer * inner), kBlockThreads, 0, stream>>>(
        dy, y, outer, dim, inner, dx);
  }
  check_launch(kName);
}

template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* target, int64_t n, int64_t c, int64_t ignore_index,
                           double label_smoothing, T* log_probs, T* loss, int64_t* non_ignored, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::cross_entropy_forward";
  check_sizes_not_negative(kName, {n, c});
  if (n > 0 && c == 0)
    throw std::invalid_argument(std::string(kName) + ": " + std::to_string(n) + " samples over 0 classes");
  if (n > 0) check_not_null(kName, {logits, target, log_probs, loss});
  if (non_ignored) {
    count_not_ignored_kernel<<<1, 1024, 0, stream>>>(target, n, ignore_index, non_ignored);
    check_launch(kName);
  }
  if (n == 0) return;
  if (c <= kWarpRowMax) {
    cross_entropy_warp_rows_kernel<<<warp_row_blocks(n), kBlockThreads, 0, stream>>>(logits, target, n, c, ignore_index,
                                                                                     label_smoothing, log_probs, loss);
  } else {
    cross_entropy_block_rows_kernel<<<blocks_for(n), kRowBlockThreads, 0, stream>>>(logits, target, n, c, ignore_index,
                                                                                    label_smoothing, log_probs, loss);
  }
  check_launch(kName);
}

template <typename T>
void cross_entropy_backward(const T* log_probs, const int64_t* target, int64_t n, int64_t c, int64_t ignore_index,
                            double label_smoothing, const T* dloss, T* dlogits, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::cross_entropy_backward";
  check_sizes_not_negative(kName, {n, c});
  if (n == 0 || c == 0) return;
  check_not_null(kName, {log_probs, target, dloss, dlogits});
  cross_entropy_backward_kernel<<<warp_row_blocks(n), kBlockThreads, 0, stream>>>(log_probs, target, n, c, ignore_index,
                                                                                  label_smoothing, dloss, dlogits);
  check_launch(kName);
}

#define GRAFT_INSTANTIATE(T)                                                                                         \
  template void log_softmax_forward<T>(const T*, int64_t, int64_t, int64_t, T*, Stream);                             \
  template void log_softmax_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, T*, Stream);                  \
  template void cross_entropy_forward<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, double, T*, T*,        \
                                         int64_t*, Stream);                                                          \
  template void cross_entropy_backward<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, double, const T*, T*, \
                                          Stream);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
#undef GRAFT_INSTANTIATE

}  // namespace graft::kernels::cuda
