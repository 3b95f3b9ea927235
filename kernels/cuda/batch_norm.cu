// Batch norm on the GPU over [n, c, hw], with the CPU twin's formulas. Every entry point is at most
// two kernels over the plan of kernels/cuda/channel_chunks.cuh (each channel cut into chunks, one
// block per chunk):
// 1. channel_sums_kernel: each block adds two per-channel sums over its chunk in double and writes
//    them to scratch memory: for the forward pass, sum(x - shift) and sum((x - shift)^2) with shift =
//    the channel's first element (a shifted single pass: exact to add across blocks, and with the
//    shift near the mean it keeps the variance accurate where sum(x^2) - sum(x)^2 / n would cancel);
//    for the backward passes, sum(dy) and sum(dy * (x - mean)).
// 2. channel_apply_kernel: each block adds its channel's partial sums in chunk order (every block of
//    a channel gets the same bits), derives the channel's constants (mean, invstd, scale, ...), lets
//    the channel's first chunk write the per-channel outputs (saved and running statistics, dgamma,
//    dbeta), then writes y or dx over its chunk.
// No atomics: results repeat bit for bit. The apply kernel takes the chunks in reverse order, so it
// starts on those the sums kernel read last, which are likely still in the L2 cache: at ResNet sizes
// (50-100 MB, twice the L2) a share of the second read of x then costs no DRAM traffic.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/batch_norm.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/channel_chunks.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/pack.cuh"

namespace graft::kernels::cuda {
namespace {

// ---- the per-chunk sums ----------------------------------------------------------------------

// sum(d) and sum(d^2) with d = x - shift, shift = the channel's first element.
template <typename T, int V>
struct ShiftedMoments {
  const T* x;
  int64_t hw;
  double shift = 0, s1 = 0, s2 = 0;

  __device__ void start(int64_t ch, bool nonempty) {
    shift = nonempty ? double(x[ch * hw]) : 0.0;
    s1 = s2 = 0;
  }
  using Loaded = Vec<T, V>;
  __device__ Loaded load(int64_t a) const { return load_vec<T, V>(x, a); }
  __device__ void use(int64_t, const Loaded& v) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const double d = double(v.v[k]) - shift;
      s1 += d;
      s2 += d * d;
    }
  }
};

// sum(dy) and sum(dy * (x - mean)) with the channel's mean given.
template <typename T, int V>
struct GradientSums {
  const T* dy;
  const T* x;
  const T* mean_of_channel;
  double mean = 0, s1 = 0, s2 = 0;

  __device__ void start(int64_t ch, bool) {
    mean = double(mean_of_channel[ch]);
    s1 = s2 = 0;
  }
  struct Loaded {
    Vec<T, V> dy, x;
  };
  __device__ Loaded load(int64_t a) const { return {load_vec<T, V>(dy, a), load_vec<T, V>(x, a)}; }
  __device__ void use(int64_t, const Loaded& v) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const double g = v.dy.v[k];
      s1 += g;
      s2 += g * (double(v.x.v[k]) - mean);
    }
  }
};

// partial[2 w], partial[2 w + 1] = the two sums over chunk w (= ch * splits + split).
template <typename Sums>
__global__ void channel_sums_kernel(ChannelChunks p, Sums sums, double* partial) {
  __shared__ double scratch[kWarpSize];
  for (int64_t w = blockIdx.x; w < p.items(); w += gridDim.x) {
    const int64_t ch = w / p.splits, split = w % p.splits;
    sums.start(ch, p.vecs > 0);
    walk_chunk(p, ch, split, sums);
    const double s1 = block_allreduce(sums.s1, Plus{}, scratch);
    const double s2 = block_allreduce(sums.s2, Plus{}, scratch);
    if (threadIdx.x == 0) {
      partial[2 * w] = s1;
      partial[2 * w + 1] = s2;
    }
  }
}

// ---- the per-channel constants and the elementwise pass ----------------------------------------

// y = (x - mean) * scale + shift
template <typename T>
struct NormalizeParams {
  T mean, scale, shift;
};

template <typename T, int V>
struct Normalize {
  const T* x;
  T* y;
  NormalizeParams<T> c;
  __device__ bool writes() const { return true; }
  using Loaded = Vec<T, V>;
  __device__ Loaded load(int64_t a) const { return load_vec<T, V>(x, a); }
  __device__ void use(int64_t a, const Loaded& v) const {
    Vec<T, V> out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = (v.v[k] - c.mean) * c.scale + c.shift;
    store_vec<T, V>(y, a, out);
  }
};

// Training forward: the batch statistics from the sums, saved (and folded into the running
// statistics) by the channel's first chunk.
template <typename T>
struct ForwardTrainChannel {
  const T* x;
  int64_t hw;
  double count;
  const T* gamma;
  const T* beta;
  double eps, momentum;
  T* running_mean;
  T* running_var;
  T* save_mean;
  T* save_invstd;

  __device__ NormalizeParams<T> operator()(int64_t ch, bool first_chunk, double s1, double s2) const {
    const double shift = count > 0 ? double(x[ch * hw]) : 0.0;
    const double mean = shift + s1 / count;
    // sum((x - mean)^2); NaN stays NaN. An empty batch sums nothing: 0, as in the CPU twin (the
    // running variance then keeps (1 - momentum) of itself rather than becoming NaN).
    double squared_deviation = count > 0 ? s2 - s1 * (s1 / count) : 0.0;
    if (squared_deviation < 0) squared_deviation = 0;
    const double invstd = 1.0 / sqrt(squared_deviation / count + eps);
    if (first_chunk) {
      save_mean[ch] = T(mean);
      save_invstd[ch] = T(invstd);
      if (running_mean) running_mean[ch] = T((1 - momentum) * double(running_mean[ch]) + momentum * mean);
      if (running_var) {
        const double unbiased_var = squared_deviation / (count - 1);
        running_var[ch] = T((1 - momentum) * double(running_var[ch]) + momentum * unbiased_var);
      }
    }
    const double g = gamma ? double(gamma[ch]) : 1.0;
    return {T(mean), T(g * invstd), beta ? beta[ch] : T(0)};
  }
};

// Evaluation forward: the running statistics.
template <typename T>
struct ForwardEvalChannel {
  const T* gamma;
  const T* beta;
  const T* running_mean;
  const T* running_var;
  double eps;

  __device__ NormalizeParams<T> operator()(int64_t ch, bool, double, double) const {
    const double invstd = 1.0 / sqrt(double(running_var[ch]) + eps);
    const double g = gamma ? double(gamma[ch]) : 1.0;
    return {running_mean[ch], T(g * invstd), beta ? beta[ch] : T(0)};
  }
};

// dx = (dy - dy_mean - (x - mean) * xmu_coef) * scale
template <typename T>
struct TrainGradParams {
  T dy_mean, xmu_coef, scale, mean;
};

template <typename T, int V>
struct TrainGrad {
  const T* dy;
  const T* x;
  T* dx;
  TrainGradParams<T> c;
  __device__ bool writes() const { return dx != nullptr; }
  struct Loaded {
    Vec<T, V> dy, x;
  };
  __device__ Loaded load(int64_t a) const { return {load_vec<T, V>(dy, a), load_vec<T, V>(x, a)}; }
  __device__ void use(int64_t a, const Loaded& v) const {
    Vec<T, V> out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = (v.dy.v[k] - c.dy_mean - (v.x.v[k] - c.mean) * c.xmu_coef) * c.scale;
    store_vec<T, V>(dx, a, out);
  }
};

template <typename T>
struct BackwardTrainChannel {
  double count;
  const T* gamma;
  const T* save_mean;
  const T* save_invstd;
  T* dgamma;
  T* dbeta;

  __device__ TrainGradParams<T> operator()(int64_t ch, bool first_chunk, double sum_dy, double sum_dy_xmu) const {
    const double mean = save_mean[ch], invstd = save_invstd[ch];
    if (first_chunk) {
      if (dbeta) dbeta[ch] = T(sum_dy);
      if (dgamma) dgamma[ch] = T(sum_dy_xmu * invstd);
    }
    const double g = gamma ? double(gamma[ch]) : 1.0;
    return {T(sum_dy / count), T(sum_dy_xmu / count * invstd * invstd), T(g * invstd), T(mean)};
  }
};

// dx = dy * scale
template <typename T>
struct ScaleParams {
  T scale;
};

template <typename T, int V>
struct EvalGrad {
  const T* dy;
  T* dx;
  ScaleParams<T> c;
  __device__ bool writes() const { return dx != nullptr; }
  using Loaded = Vec<T, V>;
  __device__ Loaded load(int64_t a) const { return load_vec<T, V>(dy, a); }
  __device__ void use(int64_t a, const Loaded& v) const {
    Vec<T, V> out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = v.v[k] * c.scale;
    store_vec<T, V>(dx, a, out);
  }
};

template <typename T>
struct BackwardEvalChannel {
  const T* gamma;
  const T* running_var;
  double eps;
  T* dgamma;
  T* dbeta;

  __device__ ScaleParams<T> operator()(int64_t ch, bool first_chunk, double sum_dy, double sum_dy_xmu) const {
    const double invstd = 1.0 / sqrt(double(running_var[ch]) + eps);
    if (first_chunk) {
      if (dbeta) dbeta[ch] = T(sum_dy);
      if (dgamma) dgamma[ch] = T(sum_dy_xmu * invstd);
    }
    const double g = gamma ? double(gamma[ch]) : 1.0;
    return {T(g * invstd)};
  }
};

// For chunk w (taken in reverse order): its channel's sums over all chunks (when partial is not
// null), channel(...) -> the constants, then the elementwise pass over the chunk.
template <typename Channel, typename Elements>
__global__ void channel_apply_kernel(ChannelChunks p, Channel channel, Elements elements, const double* partial) {
  __shared__ decltype(elements.c) constants;
  const int64_t items = p.items();
  for (int64_t b = blockIdx.x; b < items; b += gridDim.x) {
    const int64_t w = items - 1 - b;
    const int64_t ch = w / p.splits, split = w % p.splits;
    __syncthreads();  // the previous item's readers of `constants` are done
    if (threadIdx.x < kWarpSize) {
      double s1 = 0, s2 = 0;
      if (partial != nullptr) {
        for (int64_t s = threadIdx.x; s < p.splits; s += kWarpSize) {
          s1 += partial[2 * (ch * p.splits + s)];
          s2 += partial[2 * (ch * p.splits + s) + 1];
        }
        s1 = warp_reduce(s1, Plus{});
        s2 = warp_reduce(s2, Plus{});
      }
      if (threadIdx.x == 0) constants = channel(ch, split == 0, s1, s2);
    }
    __syncthreads();
    if (elements.writes()) {
      elements.c = constants;
      walk_chunk(p, ch, split, elements);
    }
  }
}

// ---- host side -------------------------------------------------------------------------------

// Queues the sums kernel (when `sums` is given) and the apply kernel over plan p.
template <typename Sums, typename Channel, typename Elements>
void launch_channel_kernels(const ChannelChunks& p, const Sums* sums, const Channel& channel,
                            const Elements& elements, cudaStream_t stream, const char* kernel) {
  const int blocks = blocks_for(p.items());
  if (sums == nullptr) {
    channel_apply_kernel<<<blocks, kBlockThreads, 0, stream>>>(p, channel, elements, nullptr);
    check_launch(kernel);
    return;
  }
  StreamScratch partial(size_t(2 * p.items()) * sizeof(double), stream, kernel);
  channel_sums_kernel<<<blocks, kBlockThreads, 0, stream>>>(p, *sums, partial.as<double>());
  check_launch(kernel);
  channel_apply_kernel<<<blocks, kBlockThreads, 0, stream>>>(p, channel, elements, partial.as<const double>());
  check_launch(kernel);
}

// 16-byte vectors when hw is a multiple of their length and every buffer is aligned (null ones
// are not accessed).
template <typename T>
bool use_vectors(int64_t hw, std::initializer_list<const void*> buffers) {
  if (hw % kPackSize<T> != 0) return false;
  for (const void* b : buffers)
    if (b != nullptr && !is_aligned_16(b)) return false;
  return true;
}

template <typename T, int V>
void forward_train(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma, const T* beta, double eps,
                   double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd,
                   cudaStream_t stream, const char* kernel) {
  const ChannelChunks p = plan_channel_chunks(n, c, hw, V);
  const ShiftedMoments<T, V> sums{x, hw};
  const ForwardTrainChannel<T> channel{x,        hw,          double(n * hw), gamma,    beta,       eps,
                                       momentum, running_mean, running_var,    save_mean, save_invstd};
  launch_channel_kernels(p, &sums, channel, Normalize<T, V>{x, y, {}}, stream, kernel);
}

template <typename T, int V>
void backward_train(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma, const T* save_mean,
                    const T* save_invstd, T* dx, T* dgamma, T* dbeta, cudaStream_t stream, const char* kernel) {
  const ChannelChunks p = plan_channel_chunks(n, c, hw, V);
  const GradientSums<T, V> sums{dy, x, save_mean};
  const BackwardTrainChannel<T> channel{double(n * hw), gamma, save_mean, save_invstd, dgamma, dbeta};
  launch_channel_kernels(p, &sums, channel, TrainGrad<T, V>{dy, x, dx, {}}, stream, kernel);
}

template <typename T, int V>
void forward_eval(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma, const T* beta, const T* running_mean,
                  const T* running_var, double eps, T* y, cudaStream_t stream, const char* kernel) {
  const ChannelChunks p = plan_channel_chunks(n, c, hw, V);
  const ForwardEvalChannel<T> channel{gamma, beta, running_mean, running_var, eps};
  launch_channel_kernels(p, static_cast<const ShiftedMoments<T, V>*>(nullptr), channel, Normalize<T, V>{x, y, {}},
                         stream, kernel);
}

template <typename T, int V>
void backward_eval(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma, const T* running_mean,
                   const T* running_var, double eps, T* dx, T* dgamma, T* dbeta, cudaStream_t stream,
                   const char* kernel) {
  const ChannelChunks p = plan_channel_chunks(n, c, hw, V);
  const GradientSums<T, V> sums{dy, x, running_mean};
  const bool need_sums = dgamma != nullptr || dbeta != nullptr;
  const BackwardEvalChannel<T> channel{gamma, running_var, eps, dgamma, dbeta};
  launch_channel_kernels(p, need_sums ? &sums : nullptr, channel, EvalGrad<T, V>{dy, dx, {}}, stream, kernel);
}

}  // namespace

template <typename T>
void batch_norm_forward_train(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma, const T* beta,
                              double eps, double momentum, T* running_mean, T* running_var, T* y, T* save_mean,
                              T* save_invstd, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::batch_norm_forward_train";
  check_sizes_not_negative(kName, {n, c, hw});
  if (c == 0) return;
  check_not_null(kName, {save_mean, save_invstd});
  if (n * hw > 0) check_not_null(kName, {x, y});
  if (use_vectors<T>(hw, {x, y})) {
    forward_train<T, kPackSize<T>>(x, n, c, hw, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean,
                                   save_invstd, stream, kName);
  } else {
    forward_train<T, 1>(x, n, c, hw, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean, save_invstd,
                        stream, kName);
  }
}

template <typename T>
void batch_norm_forward_eval(const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, double eps, T* y, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::batch_norm_forward_eval";
  check_sizes_not_negative(kName, {n, c, hw});
  if (n * c * hw == 0) return;
  check_not_null(kName, {x, y, running_mean, running_var});
  if (use_vectors<T>(hw, {x, y})) {
    forward_eval<T, kPackSize<T>>(x, n, c, hw, gamma, beta, running_mean, running_var, eps, y, stream, kName);
  } else {
    forward_eval<T, 1>(x, n, c, hw, gamma, beta, running_mean, running_var, eps, y, stream, kName);
  }
}

template <typename T>
void batch_norm_backward_train(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                               const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::batch_norm_backward_train";
  check_sizes_not_negative(kName, {n, c, hw});
  if (c == 0 || (dx == nullptr && dgamma == nullptr && dbeta == nullptr)) return;
  check_not_null(kName, {save_mean, save_invstd});
  if (n * hw > 0) check_not_null(kName, {dy, x});
  if (use_vectors<T>(hw, {dy, x, dx})) {
    backward_train<T, kPackSize<T>>(dy, x, n, c, hw, gamma, save_mean, save_invstd, dx, dgamma, dbeta, stream, kName);
  } else {
    backward_train<T, 1>(dy, x, n, c, hw, gamma, save_mean, save_invstd, dx, dgamma, dbeta, stream, kName);
  }
}

template <typename T>
void batch_norm_backward_eval(const T* dy, const T* x, int64_t n, int64_t c, int64_t hw, const T* gamma,
                              const T* running_mean, const T* running_var, double eps, T* dx, T* dgamma, T* dbeta,
                              Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::batch_norm_backward_eval";
  check_sizes_not_negative(kName, {n, c, hw});
  const bool need_sums = dgamma != nullptr || dbeta != nullptr;
  if (c == 0 || (!need_sums && (dx == nullptr || n * hw == 0))) return;
  check_not_null(kName, {running_var});
  if (need_sums) check_not_null(kName, {running_mean});
  if (n * hw > 0) check_not_null(kName, {dy});
  if (n * hw > 0 && need_sums) check_not_null(kName, {x});
  if (use_vectors<T>(hw, {dy, need_sums ? x : nullptr, dx})) {
    backward_eval<T, kPackSize<T>>(dy, x, n, c, hw, gamma, running_mean, running_var, eps, dx, dgamma, dbeta, stream,
                                   kName);
  } else {
    backward_eval<T, 1>(dy, x, n, c, hw, gamma, running_mean, running_var, eps, dx, dgamma, dbeta, stream, kName);
  }
}

#define GRAFT_INSTANTIATE(T)                                                                                       \
  template void batch_norm_forward_train<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, double, double, \
                                            T*, T*, T*, T*, T*, Stream);                                            \
  template void batch_norm_forward_eval<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, const T*,        \
                                           const T*, double, T*, Stream);                                           \
  template void batch_norm_backward_train<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*, const T*,      \
                                             const T*, T*, T*, T*, Stream);                                         \
  template void batch_norm_backward_eval<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*, const T*,       \
                                            const T*, double, T*, T*, T*, Stream);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
#undef GRAFT_INSTANTIATE

}  // namespace graft::kernels::cuda
