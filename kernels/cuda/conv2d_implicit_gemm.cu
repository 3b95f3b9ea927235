// The implicit GEMM of the forward pass and the data gradient (kernels/cuda/conv2d_implicit_gemm.cuh):
// the tiling of kernels/cuda/conv2d_tile.cuh with two loaders.
//  - The weight loader reads A, a plain matrix. Row-major: pairs of threads read the 8 depths of
//    one row (32 contiguous bytes) as two float4 when the rows allow it, scalars otherwise.
//    Transposed (the 1 x 1 data gradient reads w[oc][ic] as A[ic][oc]): consecutive threads read
//    consecutive rows at one depth, so every load is coalesced.
//  - The gather loader builds B from the source tensor on the fly. Each thread owns one column of
//    the block tile (one output pixel, whose source origin it computes once) and 4 consecutive
//    depths per run; with the depth tap-major, those 4 depths are 4 channels at one tap whenever
//    they do not straddle a tap, and then share one address computation and one bounds check
//    (padding reads as zero). Consecutive threads hold consecutive pixels: coalesced loads.
#include "kernels/cuda/conv2d_implicit_gemm.cuh"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/cuda/launch.cuh"

namespace graft::kernels::cuda::conv2d_gather {
namespace {

using conv2d_tile::kBlockN;
using conv2d_tile::kDepth;
using conv2d_tile::kStrideB;
using conv2d_tile::OutputMap;
using conv2d_tile::Shape;

// One launch, in the 32-bit indices the kernel computes with (run() checks that they fit).
struct Params {
  int rows, depth, columns, tiles_m;
  FastDivmod channels, taps_w;
  const float* a;
  int64_t a_group_stride, lda;
  const float* src;
  int64_t src_image_stride, src_group_stride;
  int src_plane, src_h, src_w;
  FastDivmod grid_plane, grid_w;
  int step_h, step_w, base_h, base_w, tap_step_h, tap_step_w;
  int64_t depth_per_split, splits;
  float* partial;  // null: C goes straight through `out`
  OutputMap out;   // dst and bias at the launch's first image and group
};

template <int kBlockM, bool kTransposed, bool kVector>
struct WeightLoader {
  static constexpr int kStrideA = Shape<kBlockM>::kStrideA;
  const float* next;  // this thread's first element of the next slice
  int live;           // depths of the thread's run of 4 that lie before the split's end (<= 0: none)
  bool row_ok;
  int store_at;
  float4 staged;

  __device__ WeightLoader(const Params& p, int64_t group, int64_t tile_m, int64_t k_begin, int64_t k_end) {
    const int row = kTransposed ? threadIdx.x % kBlockM : threadIdx.x / 2;
    const int quad = kTransposed ? threadIdx.x / kBlockM : threadIdx.x % 2;
    const int64_t m = tile_m * kBlockM + row, k0 = k_begin + quad * 4;
    row_ok = m < p.rows;
    const float* a = p.a + group * p.a_group_stride;
    next = kTransposed ? a + k0 * p.lda + m : a + m * p.lda + k0;
    live = static_cast<int>(k_end - k0);
    store_at = quad * 4 * kStrideA + row;
  }

  __device__ void load(const Params& p) {
    const int n = row_ok ? live : 0;
    if (kTransposed) {
      staged.x = n > 0 ? __ldg(next) : 0.0f;
      staged.y = n > 1 ? __ldg(next + p.lda) : 0.0f;
      staged.z = n > 2 ? __ldg(next + 2 * p.lda) : 0.0f;
      staged.w = n > 3 ? __ldg(next + 3 * p.lda) : 0.0f;
      next += kDepth * p.lda;
    } else {
      if (kVector) {
        // The rows are zero-padded to a multiple of 4, or K is one: a run that starts inside
        // the matrix ends inside it.
        staged = n > 0 ? __ldg(reinterpret_cast<const float4*>(next)) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      } else {
        staged.x = n > 0 ? __ldg(next) : 0.0f;
        staged.y = n > 1 ? __ldg(next + 1) : 0.0f;
        staged.z = n > 2 ? __ldg(next + 2) : 0.0f;
        staged.w = n > 3 ? __ldg(next + 3) : 0.0f;
      }
      next += kDepth;
    }
    live -= kDepth;
  }

  __device__ void store(float* slice) const {
    slice[store_at + 0 * kStrideA] = staged.x;
    slice[store_at + 1 * kStrideA] = staged.y;
    slice[store_at + 2 * kStrideA] = staged.z;
    slice[store_at + 3 * kStrideA] = staged.w;
  }
};

template <int kThreads>
struct GatherLoader {
  static constexpr int kRuns = kDepth * kBlockN / 4 / kThreads;  // runs of 4 depths per thread: 1 or 2
  static constexpr int kQuadStep = kThreads / kBlockN;           // quads between a thread's runs
  static_assert(kRuns * kThreads * 4 == kDepth * kBlockN, "the threads must cover the slice");

  const float* column;  // the column's image and group in the source
  int y0, x0;           // source coordinates of tap (0, 0)
  bool column_ok;
  int next_k;           // first depth of the next slice
  int k_end;
  float staged[kRuns][4];

  __device__ GatherLoader(const Params& p, int64_t group, int64_t tile_n, int64_t k_begin, int64_t k_end_) {
    const int64_t j = tile_n * kBlockN + threadIdx.x % kBlockN;
    column_ok = j < p.columns;
    column = p.src + group * p.src_group_stride;
    y0 = x0 = 0;
    if (column_ok) {
      const uint32_t image = p.grid_plane.divide(static_cast<uint32_t>(j));
      const uint32_t in_plane = static_cast<uint32_t>(j) - image * p.grid_plane.divisor();
      const uint32_t y = p.grid_w.divide(in_plane), x = in_plane - y * p.grid_w.divisor();
      column += int64_t(image) * p.src_image_stride;
      y0 = int(y) * p.step_h + p.base_h;
      x0 = int(x) * p.step_w + p.base_w;
    }
    next_k = static_cast<int>(k_begin);
    k_end = static_cast<int>(k_end_);
  }

  // The source element of depth k, or 0 in the padding.
  __device__ float element(const Params& p, int k) const {
    const uint32_t tap = p.channels.divide(k), c = k - tap * p.channels.divisor();
    const uint32_t th = p.taps_w.divide(tap), tw = tap - th * p.taps_w.divisor();
    const int sy = y0 + int(th) * p.tap_step_h, sx = x0 + int(tw) * p.tap_step_w;
    if (!column_ok || unsigned(sy) >= unsigned(p.src_h) || unsigned(sx) >= unsigned(p.src_w)) return 0.0f;
    return __ldg(column + int(c) * p.src_plane + sy * p.src_w + sx);
  }

  __device__ void load(const Params& p) {
#pragma unroll
    for (int r = 0; r < kRuns; ++r) {
      // The same for all threads of a warp: the branches below do not diverge.
      const int k0 = next_k + (int(threadIdx.x) / kBlockN + r * kQuadStep) * 4;
      float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (k0 < k_end) {
        const uint32_t tap = p.channels.divide(k0), c0 = k0 - tap * p.channels.divisor();
        if (c0 + 4 <= p.channels.divisor() && k0 + 4 <= k_end) {
          // Four channels at one tap: one address, one bounds check.
          const uint32_t th = p.taps_w.divide(tap), tw = tap - th * p.taps_w.divisor();
          const int sy = y0 + int(th) * p.tap_step_h, sx = x0 + int(tw) * p.tap_step_w;
          if (column_ok && unsigned(sy) < unsigned(p.src_h) && unsigned(sx) < unsigned(p.src_w)) {
            const float* at = column + int(c0) * p.src_plane + sy * p.src_w + sx;
#pragma unroll
            for (int e = 0; e < 4; ++e) v[e] = __ldg(at + e * p.src_plane);
          }
        } else {
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (k0 + e < k_end) v[e] = element(p, k0 + e);
        }
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) staged[r][e] = v[e];
    }
    next_k += kDepth;
  }

  __device__ void store(float* slice) const {
    const int col = threadIdx.x % kBlockN;
#pragma unroll
    for (int r = 0; r < kRuns; ++r) {
      const int quad = int(threadIdx.x) / kBlockN + r * kQuadStep;
#pragma unroll
      for (int e = 0; e < 4; ++e) slice[(quad * 4 + e) * kStrideB + col] = staged[r][e];
    }
  }
};

template <int kBlockM, bool kTransposed, bool kVector>
struct Loaders {
  WeightLoader<kBlockM, kTransposed, kVector> a;
  GatherLoader<Shape<kBlockM>::kThreads> b;
  __device__ void load(const Params& p) {
    a.load(p);
    b.load(p);
  }
  __device__ void store(float* a_slice, float* b_slice) const {
    a.store(a_slice);
    b.store(b_slice);
  }
};

// Block (x, y, z): tile x % tiles_m of the rows and x / tiles_m of the columns (the row tiles of
// one column tile run side by side and share its gather in L2), depth split y, group z.
template <int kBlockM, bool kTransposed, bool kVector>
__global__ void __launch_bounds__(Shape<kBlockM>::kThreads, Shape<kBlockM>::kBlocksPerSm)
    gather_gemm_kernel(Params p) {
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
  {
    Loaders<kBlockM, kTransposed, kVector> loaders{{p, group, tile_m, k_begin, k_end}, {p, group, tile_n, k_begin, k_end}};
    const int64_t slices = k_end > k_begin ? (k_end - k_begin + kDepth - 1) / kDepth : 0;
    conv2d_tile::accumulate<kBlockM>(p, loaders, slices, a_slices, b_slices, t, acc);
  }

  const int64_t row0 = tile_m * kBlockM, col0 = tile_n * kBlockN;
  if (p.partial != nullptr) {
    float* out = p.partial + (group * p.splits + split) * p.rows * p.columns + col0;
    const bool vector = p.columns % 4 == 0;
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      const int64_t row = row0 + t.row(r);
      if (row >= p.rows) continue;
      float* out_row = out + row * p.columns;
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
    return;
  }

  int64_t offset[8];  // where each of the thread's columns lands, -1 past the last column
#pragma unroll
  for (int s = 0; s < 8; ++s) {
    const int64_t j = col0 + t.col(s);
    offset[s] = j < p.columns ? p.out.column_offset(static_cast<uint32_t>(j)) : -1;
  }
#pragma unroll
  for (int r = 0; r < 8; ++r) {
    const int64_t row = row0 + t.row(r);
    if (row >= p.rows) continue;
    const float add = p.out.bias != nullptr ? p.out.bias[group * p.rows + row] : 0.0f;
    float* dst = p.out.dst + group * p.out.group_stride + row * p.out.channel_stride;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t* at = offset + half * 4;
      const float* v = acc[r] + half * 4;
      const bool contiguous = at[0] >= 0 && at[1] == at[0] + 1 && at[2] == at[0] + 2 && at[3] == at[0] + 3;
      if (contiguous && reinterpret_cast<uintptr_t>(dst + at[0]) % 16 == 0) {
        *reinterpret_cast<float4*>(dst + at[0]) = make_float4(v[0] + add, v[1] + add, v[2] + add, v[3] + add);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (at[e] >= 0) dst[at[e]] = v[e] + add;
      }
    }
  }
}

using Launcher = void (*)(const Params&, dim3, int, cudaStream_t);

template <int kBlockM, bool kTransposed, bool kVector>
void launch(const Params& p, dim3 grid, int threads, cudaStream_t stream) {
  gather_gemm_kernel<kBlockM, kTransposed, kVector><<<grid, threads, 0, stream>>>(p);
}

template <int kBlockM>
Launcher pick(bool transposed, bool vector) {
  if (transposed) return launch<kBlockM, true, false>;
  return vector ? launch<kBlockM, false, true> : launch<kBlockM, false, false>;
}

constexpr int64_t kMaxGridYZ = 65535;
constexpr int64_t kMaxIndex = INT_MAX;
constexpr int64_t kMinSplitDepth = 256;

[[noreturn]] void too_large(const char* who, const std::string& what) {
  throw std::invalid_argument(std::string(who) + ": " + what + " exceeds 2^31 - 1, which the 32-bit indices of the CUDA kernel cannot address; split the batch or the channels");
}

// One block per (group, row) of A: its threads write the packed row in order (coalesced), and
// read the weights of that row, which lie within a few kilobytes, through L1.
__global__ void repack_kernel(Repack r, const float* w, int64_t in_per_group, int64_t out_per_group, int64_t kernel_h,
                              int64_t kernel_w, FastDivmod channels, FastDivmod taps_w, float* packed) {
  const int64_t group = blockIdx.x / r.rows, row = blockIdx.x % r.rows;
  const int64_t depth = r.channels * r.taps_h * r.taps_w;
  float* out = packed + int64_t(blockIdx.x) * r.lda;
  for (int k = threadIdx.x; k < r.lda; k += blockDim.x) {
    float v = 0.0f;
    if (k < depth) {
      const uint32_t tap = channels.divide(k), c = k - tap * channels.divisor();
      const uint32_t th = taps_w.divide(tap), tw = tap - th * taps_w.divisor();
      const int64_t kr = r.r0 + th * r.step_h, ks = r.s0 + tw * r.step_w;
      const int64_t oc = r.rows_are_out_channels ? row : c, ic = r.rows_are_out_channels ? c : row;
      v = __ldg(w + ((group * out_per_group + oc) * in_per_group + ic) * kernel_h * kernel_w + kr * kernel_w + ks);
    }
    out[k] = v;
  }
}

}  // namespace

void repack_weights(const Repack& r, const float* w, int64_t in_per_group, int64_t out_per_group, int64_t kernel_h,
                    int64_t kernel_w, float* packed, Stream stream, const char* who) {
  const int64_t blocks = r.groups * r.rows;
  if (blocks == 0 || r.lda == 0) return;
  if (blocks > kMaxIndex || r.lda > kMaxIndex) too_large(who, "the packed weight matrix");
  repack_kernel<<<static_cast<unsigned>(blocks), 128, 0, stream>>>(
      r, w, in_per_group, out_per_group, kernel_h, kernel_w,
      FastDivmod(static_cast<uint32_t>(std::max<int64_t>(r.channels, 1))),
      FastDivmod(static_cast<uint32_t>(std::max<int64_t>(r.taps_w, 1))), packed);
  conv2d_tile::check_launch(who);
}

void run(const Problem& p, Stream stream, const char* who) {
  const int64_t plane = p.grid_h * p.grid_w;
  if (p.groups == 0 || p.images == 0 || p.rows == 0 || plane == 0) return;
  const int64_t depth = p.channels * p.taps_h * p.taps_w;
  const int64_t src_plane = p.src_h * p.src_w;
  if (depth > kMaxIndex) too_large(who, "the depth of the product (channels x taps)");
  if (p.groups * p.channels * src_plane > kMaxIndex) too_large(who, "one image of the source tensor");
  if (plane > kMaxIndex) too_large(who, "the pixels of one output plane");
  if (p.rows > kMaxIndex) too_large(who, "the channels per group");
  // Source coordinates are computed as int: y * step + base + tap * tap_step for every pixel and tap.
  const int64_t coordinate_bound = std::max(p.grid_h, p.grid_w) * std::max(p.step_h, p.step_w) +
                                   std::max(std::abs(p.base_h), std::abs(p.base_w)) +
                                   std::max(p.taps_h, p.taps_w) * std::max(std::abs(p.tap_step_h), std::abs(p.tap_step_w));
  if (coordinate_bound > kMaxIndex) too_large(who, "a pixel coordinate");

  const bool small = p.rows <= 64;
  const int block_m = small ? 64 : 128;
  const int threads = small ? Shape<64>::kThreads : Shape<128>::kThreads;
  const bool vector = !p.a_transposed && reinterpret_cast<uintptr_t>(p.a) % 16 == 0 && p.lda % 4 == 0 && p.a_group_stride % 4 == 0 &&
                      (p.a_padded || depth % 4 == 0);
  const Launcher launcher = small ? pick<64>(p.a_transposed, vector) : pick<128>(p.a_transposed, vector);
  const int64_t tiles_m = (p.rows + block_m - 1) / block_m;

  Params base{};
  base.rows = static_cast<int>(p.rows);
  base.depth = static_cast<int>(depth);
  base.tiles_m = static_cast<int>(tiles_m);
  base.channels = FastDivmod(static_cast<uint32_t>(std::max<int64_t>(p.channels, 1)));
  base.taps_w = FastDivmod(static_cast<uint32_t>(std::max<int64_t>(p.taps_w, 1)));
  base.lda = p.lda;
  base.a_group_stride = p.a_group_stride;
  base.src_group_stride = p.channels * src_plane;
  base.src_image_stride = p.groups * p.channels * src_plane;
  base.src_plane = static_cast<int>(src_plane);
  base.src_h = static_cast<int>(p.src_h);
  base.src_w = static_cast<int>(p.src_w);
  base.grid_plane = FastDivmod(static_cast<uint32_t>(plane));
  base.grid_w = FastDivmod(static_cast<uint32_t>(p.grid_w));
  base.step_h = static_cast<int>(p.step_h), base.step_w = static_cast<int>(p.step_w);
  base.base_h = static_cast<int>(p.base_h), base.base_w = static_cast<int>(p.base_w);
  base.tap_step_h = static_cast<int>(p.tap_step_h), base.tap_step_w = static_cast<int>(p.tap_step_w);
  base.out = p.out;
  base.out.grid_plane = base.grid_plane;
  base.out.grid_w = base.grid_w;

  const int64_t images_per_launch = std::max<int64_t>(kMaxIndex / plane, 1);
  for (int64_t g0 = 0; g0 < p.groups; g0 += kMaxGridYZ) {
    const int64_t groups = std::min(p.groups - g0, kMaxGridYZ);
    for (int64_t b0 = 0; b0 < p.images; b0 += images_per_launch) {
      const int64_t images = std::min(p.images - b0, images_per_launch);
      const int64_t columns = images * plane;
      const int64_t tiles_n = (columns + kBlockN - 1) / kBlockN;
      if (tiles_m * tiles_n > kMaxIndex) too_large(who, "the number of output tiles");
      const conv2d_tile::Split split = conv2d_tile::plan_split(tiles_m * tiles_n * groups, depth, threads, kMinSplitDepth);

      Params params = base;
      params.columns = static_cast<int>(columns);
      params.a = p.a == nullptr ? nullptr : p.a + g0 * p.a_group_stride;
      params.src = p.src + (b0 * p.groups + g0) * p.channels * src_plane;
      params.out.dst = p.out.dst + g0 * p.out.group_stride + b0 * p.out.image_stride;
      params.out.bias = p.out.bias == nullptr ? nullptr : p.out.bias + g0 * p.rows;
      params.depth_per_split = split.depth_per_split;
      params.splits = split.count;
      const dim3 grid(static_cast<unsigned>(tiles_m * tiles_n), static_cast<unsigned>(split.count),
                      static_cast<unsigned>(groups));
      if (split.count == 1) {
        params.partial = nullptr;
        launcher(params, grid, threads, stream);
        conv2d_tile::check_launch(who);
        continue;
      }
      StreamScratch partial(static_cast<size_t>(split.count * groups * p.rows * columns) * sizeof(float), stream, who);
      params.partial = partial.as<float>();
      launcher(params, grid, threads, stream);
      conv2d_tile::check_launch(who);
      conv2d_tile::reduce_splits(params.partial, split.count, groups, p.rows, columns, params.out, stream, who);
    }
  }
}

}  // namespace graft::kernels::cuda::conv2d_gather
