// conv2d weight and bias gradients on the GPU. Per group, the weight gradient is the implicit GEMM
//   dw[oc][n] = sum over k of dy[oc][k] * B[k][n],   n = (c, r, s) in w's own order,
//   k = (image, oh, ow) over the batch and the output plane,
//   B[k][n] = x[image][c][oh * stride_h - pad_h + r * dilation_h][ow * stride_w - pad_w + s * dilation_w]
// (zero in the padding), with the tiling of kernels/cuda/conv2d_tile.cuh. The depth is the whole
// batch's pixels while the tiles of dw are few, so the depth is split across blocks that write
// partial products to scratch memory, added in a fixed order by a second pass: no atomics, the
// same bits on every run.
//
// Loading: each thread owns one depth of every slice (one output pixel, decomposed once for A and
// B) and runs of 4 rows of A (4 output channels of dy) and 4 columns of B (4 taps or channels of
// x), stored to shared memory as float4. A warp covers 8 consecutive pixels for 4 runs: each load
// instruction reads 4 rows of 8 consecutive floats of dy or x.
//
// The bias gradient is one block per output channel summing dy over batch and plane in double, in
// a fixed order.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/conv2d.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/conv2d_checks.cuh"
#include "kernels/cuda/conv2d_tile.cuh"
#include "kernels/cuda/launch.cuh"

namespace graft::kernels::cuda {
namespace {

using conv2d_tile::kBlockN;
using conv2d_tile::kDepth;
using conv2d_tile::kStrideB;
using conv2d_tile::Shape;

constexpr const char* kWho = "graft::kernels::cuda::conv2d_backward_weight";
constexpr int64_t kMaxIndex = INT_MAX;
constexpr int64_t kMaxGridYZ = 65535;
constexpr int64_t kMinSplitDepth = 256;

struct Params {
  int rows, columns, depth, tiles_m;  // M = out channels, N = in channels x taps, K = batch x plane (per group)
  const float* dy;
  int64_t dy_image_stride, dy_group_stride;
  int out_plane;
  FastDivmod out_plane_div, out_w_div;
  const float* x;
  int64_t x_image_stride, x_group_stride;
  int in_plane, in_h, in_w;
  int stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, kernel_h, kernel_w;
  int64_t depth_per_split, splits;
  float* partial;  // null: the product goes straight to dw
  float* dw;       // at the launch's first group
  bool dw_vector;  // dw is 16-byte aligned and its rows are a multiple of 4 long
};

// Per column n = (c, r, s) of the block tile: where x's element for a pixel lies relative to the
// pixel's origin, c * in_plane + r * dilation_h * in_w + s * dilation_w, and how far the tap
// reaches, r * dilation_h and s * dilation_w. Shared by the threads that load the column, in
// shared memory rather than in each thread's registers.
struct ColumnTap {
  int offset, reach_h, reach_w;
};

__device__ inline ColumnTap column_tap(const Params& p, int64_t n) {
  if (n >= p.columns) return {0, INT_MIN / 2, 0};  // fails the bounds check for every pixel
  const int taps = p.kernel_h * p.kernel_w;
  const int c = static_cast<int>(n) / taps, tap = static_cast<int>(n) % taps;
  const int reach_h = tap / p.kernel_w * p.dilation_h, reach_w = tap % p.kernel_w * p.dilation_w;
  return {c * p.in_plane + reach_h * p.in_w + reach_w, reach_h, reach_w};
}

template <int kBlockM>
struct PixelLoader {
  static constexpr int kThreads = Shape<kBlockM>::kThreads;
  static constexpr int kStrideA = Shape<kBlockM>::kStrideA;
  static constexpr int kRunsB = kBlockN / 4 / (kThreads / kDepth);  // runs of 4 columns per thread: 1 or 2
  static constexpr int kRunStep = kThreads / kDepth * 4;              // columns between a thread's runs
  static_assert(kBlockM / 4 == kThreads / kDepth, "one run of 4 rows of A per thread");

  const float* dy_rows;  // this thread's first row of dy in image 0
  const float* x_group;  // image 0 of the group in x
  const int4* taps;      // the block's ColumnTap table, as int4
  int rows_live;         // rows of the thread's run that lie inside dy (0 to 4)
  int next_k, k_end;
  float4 staged_a, staged_b[kRunsB];

  __device__ PixelLoader(const Params& p, int64_t group, int64_t tile_m, const int4* taps_, int64_t k_begin,
                         int64_t k_end_)
      : taps(taps_) {
    const int run = threadIdx.x / kDepth;
    const int64_t row = tile_m * kBlockM + run * 4;
    const int64_t inside = p.rows - row;
    rows_live = inside < 0 ? 0 : (inside > 4 ? 4 : static_cast<int>(inside));
    dy_rows = p.dy + group * p.dy_group_stride + row * p.out_plane;
    x_group = p.x + group * p.x_group_stride;
    next_k = static_cast<int>(k_begin) + threadIdx.x % kDepth;
    k_end = static_cast<int>(k_end_);
  }

  __device__ void load(const Params& p) {
    staged_a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
    for (int r = 0; r < kRunsB; ++r) staged_b[r] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (next_k < k_end) {
      const uint32_t image = p.out_plane_div.divide(next_k), pixel = next_k - image * p.out_plane_div.divisor();
      const uint32_t oh = p.out_w_div.divide(pixel), ow = pixel - oh * p.out_w_div.divisor();
      const float* dy_at = dy_rows + int64_t(image) * p.dy_image_stride + pixel;
      staged_a.x = rows_live > 0 ? __ldg(dy_at) : 0.0f;
      staged_a.y = rows_live > 1 ? __ldg(dy_at + p.out_plane) : 0.0f;
      staged_a.z = rows_live > 2 ? __ldg(dy_at + 2 * p.out_plane) : 0.0f;
      staged_a.w = rows_live > 3 ? __ldg(dy_at + 3 * p.out_plane) : 0.0f;
      const int ih0 = int(oh) * p.stride_h - p.pad_h, iw0 = int(ow) * p.stride_w - p.pad_w;
      const float* x_at = x_group + int64_t(image) * p.x_image_stride + (ih0 * p.in_w + iw0);
      const int run = threadIdx.x / kDepth;
#pragma unroll
      for (int r = 0; r < kRunsB; ++r) {
        float v[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int4 tap = taps[run * 4 + r * kRunStep + e];
          const int ih = ih0 + tap.y, iw = iw0 + tap.z;
          v[e] = unsigned(ih) < unsigned(p.in_h) && unsigned(iw) < unsigned(p.in_w) ? __ldg(x_at + tap.x) : 0.0f;
        }
        staged_b[r] = make_float4(v[0], v[1], v[2], v[3]);
      }
    }
    next_k += kDepth;
  }

  __device__ void store(float* a_slice, float* b_slice) const {
    const int lane_k = threadIdx.x % kDepth, run = threadIdx.x / kDepth;
    *reinterpret_cast<float4*>(a_slice + lane_k * kStrideA + run * 4) = staged_a;
#pragma unroll
    for (int r = 0; r < kRunsB; ++r)
      *reinterpret_cast<float4*>(b_slice + lane_k * kStrideB + run * 4 + r * kRunStep) = staged_b[r];
  }
};

// Block (x, y, z): tile x % tiles_m of the rows and x / tiles_m of the columns, depth split y,
// group z.
template <int kBlockM>
__global__ void __launch_bounds__(Shape<kBlockM>::kThreads, Shape<kBlockM>::kBlocksPerSm)
    weight_gradient_kernel(Params p) {
  __shared__ __align__(16) float a_slices[2][kDepth * Shape<kBlockM>::kStrideA];
  __shared__ __align__(16) float b_slices[2][kDepth * kStrideB];
  const int64_t group = blockIdx.z, split = blockIdx.y;
  const int64_t tile_m = blockIdx.x % unsigned(p.tiles_m), tile_n = blockIdx.x / unsigned(p.tiles_m);
  const int64_t k_begin = split * p.depth_per_split;
  const int64_t k_end = p.depth < k_begin + p.depth_per_split ? p.depth : k_begin + p.depth_per_split;
  const conv2d_tile::ThreadTile t = conv2d_tile::thread_tile<kBlockM>();

  float acc[8][8];
#pragma unroll
  for (int r = 0; r < 8; ++r)
#pragma unroll
    for (int s = 0; s < 8; ++s) acc[r][s] = 0.0f;
  __shared__ int4 taps[kBlockN];
  for (int i = threadIdx.x; i < kBlockN; i += Shape<kBlockM>::kThreads) {
    const ColumnTap tap = column_tap(p, tile_n * kBlockN + i);
    taps[i] = make_int4(tap.offset, tap.reach_h, tap.reach_w, 0);
  }
  __syncthreads();
  {
    PixelLoader<kBlockM> loader(p, group, tile_m, taps, k_begin, k_end);
    const int64_t slices = k_end > k_begin ? (k_end - k_begin + kDepth - 1) / kDepth : 0;
    conv2d_tile::accumulate<kBlockM>(p, loader, slices, a_slices, b_slices, t, acc);
  }

  const bool to_partial = p.partial != nullptr;
  float* out = to_partial ? p.partial + (group * p.splits + split) * p.rows * p.columns
                          : p.dw + group * p.rows * p.columns;
  const bool vector = to_partial ? p.columns % 4 == 0 : p.dw_vector;
  const int64_t row0 = tile_m * kBlockM, col0 = tile_n * kBlockN;
#pragma unroll
  for (int r = 0; r < 8; ++r) {
    const int64_t row = row0 + t.row(r);
    if (row >= p.rows) continue;
    float* out_row = out + row * p.columns + col0;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int col = t.col(half * 4);
      if (vector && col0 + col + 4 <= p.columns) {
        *reinterpret_cast<float4*>(out_row + col) =
            make_float4(acc[r][half * 4], acc[r][half * 4 + 1], acc[r][half * 4 + 2], acc[r][half * 4 + 3]);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (col0 + col + e < p.columns) out_row[col + e] = acc[r][half * 4 + e];
      }
    }
  }
}

constexpr int kBiasThreads = 256;

// dbias[oc] = sum over images and pixels of dy, one block per channel, in double.
__global__ void __launch_bounds__(kBiasThreads)
    bias_gradient_kernel(const float* dy, int64_t batch, int64_t channels, int64_t plane, float* dbias) {
  __shared__ double scratch[32];
  const int64_t channel = blockIdx.x;
  double sum = 0.0;
  for (int64_t image = 0; image < batch; ++image) {
    const float* row = dy + (image * channels + channel) * plane;
    for (int64_t i = threadIdx.x; i < plane; i += kBiasThreads) sum += row[i];
  }
  sum = block_allreduce(sum, Plus{}, scratch);
  if (threadIdx.x == 0) dbias[channel] = static_cast<float>(sum);
}

[[noreturn]] void too_large(const std::string& what) {
  throw std::invalid_argument(std::string(kWho) + ": " + what +
                              " exceeds 2^31 - 1, which the 32-bit indices of the CUDA kernel cannot address; split the batch or the channels");
}

template <int kBlockM>
void launch(const Params& p, dim3 grid, cudaStream_t stream) {
  weight_gradient_kernel<kBlockM><<<grid, Shape<kBlockM>::kThreads, 0, stream>>>(p);
}

void weight_gradient(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, Stream stream) {
  const int64_t in_per_group = g.in_channels_per_group(), out_per_group = g.out_channels_per_group();
  const int64_t rows = out_per_group, columns = in_per_group * g.kernel_h * g.kernel_w;
  const int64_t out_plane = g.out_h() * g.out_w(), in_plane = g.in_h * g.in_w;
  const int64_t depth = g.batch * out_plane;
  if (rows == 0 || columns == 0) return;
  if (depth > kMaxIndex) too_large("batch x output pixels");
  if (columns > kMaxIndex || rows > kMaxIndex) too_large("the weight gradient's rows or columns");
  if (g.in_channels * in_plane > kMaxIndex) too_large("one image of x");
  if (std::max(g.out_h(), g.out_w()) * std::max(g.stride_h, g.stride_w) +
          std::max(g.kernel_h, g.kernel_w) * std::max(g.dilation_h, g.dilation_w) + std::max(g.pad_h, g.pad_w) >
      kMaxIndex)
    too_large("a pixel coordinate");

  const bool small = rows <= 64;
  const int block_m = small ? 64 : 128;
  const int threads = small ? Shape<64>::kThreads : Shape<128>::kThreads;
  const int64_t tiles_m = (rows + block_m - 1) / block_m, tiles_n = (columns + kBlockN - 1) / kBlockN;
  if (tiles_m * tiles_n > kMaxIndex) too_large("the number of weight tiles");

  Params base{};
  base.rows = static_cast<int>(rows);
  base.columns = static_cast<int>(columns);
  base.depth = static_cast<int>(depth);
  base.tiles_m = static_cast<int>(tiles_m);
  base.dy_image_stride = g.out_channels * out_plane;
  base.dy_group_stride = out_per_group * out_plane;
  base.out_plane = static_cast<int>(out_plane);
  base.out_plane_div = FastDivmod(static_cast<uint32_t>(out_plane));
  base.out_w_div = FastDivmod(static_cast<uint32_t>(g.out_w()));
  base.x_image_stride = g.in_channels * in_plane;
  base.x_group_stride = in_per_group * in_plane;
  base.in_plane = static_cast<int>(in_plane);
  base.in_h = static_cast<int>(g.in_h), base.in_w = static_cast<int>(g.in_w);
  base.stride_h = static_cast<int>(g.stride_h), base.stride_w = static_cast<int>(g.stride_w);
  base.pad_h = static_cast<int>(g.pad_h), base.pad_w = static_cast<int>(g.pad_w);
  base.dilation_h = static_cast<int>(g.dilation_h), base.dilation_w = static_cast<int>(g.dilation_w);
  base.kernel_h = static_cast<int>(g.kernel_h), base.kernel_w = static_cast<int>(g.kernel_w);
  base.dw_vector = reinterpret_cast<uintptr_t>(dw) % 16 == 0 && columns % 4 == 0;

  for (int64_t g0 = 0; g0 < g.groups; g0 += kMaxGridYZ) {
    const int64_t groups = std::min(g.groups - g0, kMaxGridYZ);
    const conv2d_tile::Split split = conv2d_tile::plan_split(tiles_m * tiles_n * groups, depth, threads, kMinSplitDepth);
    Params p = base;
    p.dy = dy + g0 * out_per_group * out_plane;
    p.x = x + g0 * in_per_group * in_plane;
    p.dw = dw + g0 * rows * columns;
    p.depth_per_split = split.depth_per_split;
    p.splits = split.count;
    const dim3 grid(static_cast<unsigned>(tiles_m * tiles_n), static_cast<unsigned>(split.count),
                    static_cast<unsigned>(groups));
    if (split.count == 1) {
      p.partial = nullptr;
      small ? launch<64>(p, grid, stream) : launch<128>(p, grid, stream);
      conv2d_tile::check_launch(kWho);
      continue;
    }
    StreamScratch partial(static_cast<size_t>(split.count * groups * rows * columns) * sizeof(float), stream, kWho);
    p.partial = partial.as<float>();
    small ? launch<64>(p, grid, stream) : launch<128>(p, grid, stream);
    conv2d_tile::check_launch(kWho);
    // dw[group][row][column] is its own column of a one-pixel grid: the identity map.
    conv2d_tile::OutputMap out{};
    out.dst = p.dw;
    out.bias = nullptr;
    out.group_stride = rows * columns;
    out.channel_stride = columns;
    out.image_stride = 0;
    out.pitch = 0;
    out.grid_plane = FastDivmod(static_cast<uint32_t>(columns));
    out.grid_w = FastDivmod(static_cast<uint32_t>(columns));
    out.step_h = 0, out.step_w = 1, out.base_h = 0, out.base_w = 0;
    conv2d_tile::reduce_splits(p.partial, split.count, groups, rows, columns, out, stream, kWho);
  }
}

}  // namespace

void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                            Stream stream) {
  namespace checks = conv2d_checks;
  checks::check_geometry(kWho, g);
  checks::check_pointer(kWho, x, "x", checks::x_elements(g));
  checks::check_pointer(kWho, dy, "dy", checks::y_elements(g));
  checks::check_pointer(kWho, dw, "dw", checks::w_elements(g));
  const int64_t weights = checks::w_elements(g);
  if (g.batch == 0) {
    // No pixels: both gradients are sums over nothing.
    if (weights > 0) check_call(cudaMemsetAsync(dw, 0, static_cast<size_t>(weights) * sizeof(float), stream), kWho, "cudaMemsetAsync");
    if (dbias != nullptr && g.out_channels > 0)
      check_call(cudaMemsetAsync(dbias, 0, static_cast<size_t>(g.out_channels) * sizeof(float), stream), kWho,
                 "cudaMemsetAsync");
    return;
  }
  if (weights > 0) weight_gradient(g, x, dy, dw, stream);
  if (dbias != nullptr && g.out_channels > 0) {
    if (g.out_channels > kMaxIndex) too_large("out_channels");
    bias_gradient_kernel<<<static_cast<unsigned>(g.out_channels), kBiasThreads, 0, stream>>>(
        dy, g.batch, g.out_channels, g.out_h() * g.out_w(), dbias);
    conv2d_tile::check_launch(kWho);
  }
}

}  // namespace graft::kernels::cuda
