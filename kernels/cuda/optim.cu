// Optimizer updates on the GPU, element by element, with the CPU twin's formulas in the CPU twin's
// order (kernels/cpu/optim.cpp): fused multiply-adds exactly where torch fuses, written out with
// kernels/cuda/rounding.cuh; this file is compiled with -fmad=false (CMakeLists.txt) so that nvcc
// fuses no other multiply and add, and the host-side constants are computed with the CPU twin's
// expressions. The results therefore equal the CPU twin's bit for bit.
//
// The multi-tensor versions copy up to kSgdTensorsPerLaunch / kAdamTensorsPerLaunch tensors into
// one kernel argument (under the 4 KiB limit) and cut them into chunks of kChunkElements: block b
// of the launch finds the tensor that owns chunk b from the running chunk counts and updates that
// chunk. One launch then
// updates a whole model's parameters, where the single-tensor versions take one launch per tensor.
#include <cuda_runtime.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/map.cuh"
#include "kernels/cuda/pack.cuh"
#include "kernels/cuda/rounding.cuh"
#include "kernels/cuda/row_sums.cuh"
#include "kernels/optim.h"
#include "kernels/optim_constants.h"

namespace graft::kernels::cuda {
namespace {

using namespace optim_detail;

constexpr int64_t kChunkElements = 8192;
constexpr int kSgdTensorsPerLaunch = 64;
constexpr int kAdamTensorsPerLaunch = 48;
constexpr size_t kMaxKernelArgumentBytes = 4096;

// ---- SGD ----

template <typename T, bool kDecay, bool kMomentum, bool kNesterov>
__device__ void sgd_element(int64_t i, T* param, const T* grad, T* momentum_buffer, bool first_step,
                            const SgdConstants<T>& c) {
  T d = kDecay ? fused_multiply_add(param[i], c.weight_decay, grad[i]) : grad[i];
  if constexpr (kMomentum) {
    const T buf = first_step ? d : fused_multiply_add(d, c.one_minus_dampening, momentum_buffer[i] * c.momentum);
    momentum_buffer[i] = buf;
    d = kNesterov ? fused_multiply_add(buf, c.momentum, d) : buf;
  }
  param[i] = fused_multiply_add(d, c.minus_lr, param[i]);
}

template <typename T, bool kDecay, bool kMomentum, bool kNesterov>
__global__ void sgd_kernel(int64_t n, T* param, const T* grad, T* momentum_buffer, bool first_step,
                           const SgdConstants<T> c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    sgd_element<T, kDecay, kMomentum, kNesterov>(i, param, grad, momentum_buffer, first_step, c);
}

template <typename T>
struct SgdLaunch {
  SgdConstants<T> c;
  int count;
  SgdTensor<T> tensors[kSgdTensorsPerLaunch];
  // Tensor k owns chunks [chunk_end[k - 1], chunk_end[k]) of the launch (chunk_end[-1] = 0).
  int64_t chunk_end[kSgdTensorsPerLaunch];
};
static_assert(sizeof(SgdLaunch<double>) <= kMaxKernelArgumentBytes);

// The tensor that owns `chunk`, and the chunk's first element in it.
template <typename Launch>
__device__ int owner_of(const Launch& launch, int64_t chunk, int64_t* first_element) {
  int k = 0;
  while (chunk >= launch.chunk_end[k]) ++k;
  *first_element = (chunk - (k == 0 ? 0 : launch.chunk_end[k - 1])) * kChunkElements;
  return k;
}

template <typename T, bool kDecay, bool kMomentum, bool kNesterov>
__global__ void sgd_many_kernel(const __grid_constant__ SgdLaunch<T> launch) {
  const int64_t chunks = launch.chunk_end[launch.count - 1];
  for (int64_t chunk = blockIdx.x; chunk < chunks; chunk += gridDim.x) {
    int64_t begin = 0;
    const SgdTensor<T>& t = launch.tensors[owner_of(launch, chunk, &begin)];
    const int64_t end = min_index(t.n, begin + kChunkElements);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
      sgd_element<T, kDecay, kMomentum, kNesterov>(i, t.param, t.grad, t.momentum_buffer, t.first_step, launch.c);
  }
}

template <typename T>
void with_sgd_flags(const SgdHyperparameters& h, auto&& fn) {
  // Nesterov only matters with momentum (torch rejects it without).
  with_constant_flags(std::array{h.weight_decay != 0, h.momentum != 0, h.momentum != 0 && h.nesterov}, fn);
}

// ---- Adam ----

template <typename T, bool kCoupledDecay, bool kAmsgrad>
__device__ void adam_element(int64_t i, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                             const AdamConstants<T>& c, const AdamStepConstants<T>& s) {
  const T g = kCoupledDecay ? fused_multiply_add(param[i], c.weight_decay, grad[i]) : grad[i];
  const T p = param[i] * c.decoupled_decay_factor;
  const T m = fused_multiply_add(g, c.one_minus_beta1, exp_avg[i] * c.beta1);
  const T v = fused_multiply_add(c.one_minus_beta2 * g, g, exp_avg_sq[i] * c.beta2);
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  T second_moment = v;
  if constexpr (kAmsgrad) {
    second_moment = NanPropagatingMax{}(max_exp_avg_sq[i], v);
    max_exp_avg_sq[i] = second_moment;
  }
  const T denom = rounded_divide(rounded_sqrt(second_moment), s.bias_correction2_sqrt) + c.eps;
  param[i] = p + rounded_divide(s.minus_step_size * m, denom);
}

template <typename T, bool kCoupledDecay, bool kAmsgrad>
__global__ void adam_kernel(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                            const AdamConstants<T> c, const AdamStepConstants<T> s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adam_element<T, kCoupledDecay, kAmsgrad>(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, c, s);
}

template <typename T>
struct AdamTensorArguments {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;
  int64_t n;
  AdamStepConstants<T> s;
};

template <typename T>
struct AdamLaunch {
  AdamConstants<T> c;
  int count;
  AdamTensorArguments<T> tensors[kAdamTensorsPerLaunch];
  int64_t chunk_end[kAdamTensorsPerLaunch];
};
static_assert(sizeof(AdamLaunch<double>) <= kMaxKernelArgumentBytes);

template <typename T, bool kCoupledDecay, bool kAmsgrad>
__global__ void adam_many_kernel(const __grid_constant__ AdamLaunch<T> launch) {
  const int64_t chunks = launch.chunk_end[launch.count - 1];
  for (int64_t chunk = blockIdx.x; chunk < chunks; chunk += gridDim.x) {
    int64_t begin = 0;
    const AdamTensorArguments<T>& t = launch.tensors[owner_of(launch, chunk, &begin)];
    const int64_t end = min_index(t.n, begin + kChunkElements);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
      adam_element<T, kCoupledDecay, kAmsgrad>(i, t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, launch.c,
                                               t.s);
  }
}

template <typename T>
void with_adam_flags(const AdamHyperparameters& h, auto&& fn) {
  with_constant_flags(std::array{!h.decoupled_weight_decay && h.weight_decay != 0, h.amsgrad}, fn);
}

// ---- multi-tensor packing ----

int64_t chunks_of(int64_t n) { return (n + kChunkElements - 1) / kChunkElements; }

// Copies every tensor with elements into launch.tensors[] through fill_slot(slot, tensor), calling
// run(chunks) each time the launch is full and once at the end.
template <typename Launch, typename Tensor, typename FillSlot, typename Run>
void for_each_launch(Launch& launch, int capacity, const Tensor* tensors, int64_t count, FillSlot&& fill_slot,
                     Run&& run) {
  launch.count = 0;
  int64_t chunks = 0;
  for (int64_t k = 0; k < count; ++k) {
    if (tensors[k].n == 0) continue;
    fill_slot(launch.tensors[launch.count], tensors[k]);
    chunks += chunks_of(tensors[k].n);
    launch.chunk_end[launch.count] = chunks;
    if (++launch.count == capacity) {
      run(chunks);
      launch.count = 0;
      chunks = 0;
    }
  }
  if (launch.count > 0) run(chunks);
}

}  // namespace

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buffer, bool first_step, const SgdHyperparameters& h,
                Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::sgd_update";
  check_sizes_not_negative(kName, {n});
  if (n == 0) return;
  check_not_null(kName, {param, grad});
  if (h.momentum != 0) check_not_null(kName, {momentum_buffer});
  const SgdConstants<T> c = sgd_constants<T>(h);
  with_sgd_flags<T>(h, [&]<bool kDecay, bool kMomentum, bool kNesterov>() {
    sgd_kernel<T, kDecay, kMomentum, kNesterov>
        <<<grid_stride_blocks(n), kBlockThreads, 0, stream>>>(n, param, grad, momentum_buffer, first_step, c);
  });
  check_launch(kName);
}

template <typename T>
void sgd_update_many(const SgdTensor<T>* tensors, int64_t count, const SgdHyperparameters& h, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::sgd_update_many";
  check_sizes_not_negative(kName, {count});
  for (int64_t k = 0; k < count; ++k) {
    const SgdTensor<T>& t = tensors[k];
    check_sizes_not_negative(kName, {t.n});
    if (t.n == 0) continue;
    check_not_null(kName, {t.param, t.grad});
    if (h.momentum != 0) check_not_null(kName, {t.momentum_buffer});
  }
  SgdLaunch<T> launch{};
  launch.c = sgd_constants<T>(h);
  for_each_launch(
      launch, kSgdTensorsPerLaunch, tensors, count, [](SgdTensor<T>& slot, const SgdTensor<T>& t) { slot = t; },
      [&](int64_t chunks) {
        with_sgd_flags<T>(h, [&]<bool kDecay, bool kMomentum, bool kNesterov>() {
          sgd_many_kernel<T, kDecay, kMomentum, kNesterov><<<blocks_for(chunks), kBlockThreads, 0, stream>>>(launch);
        });
        check_launch(kName);
      });
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t step,
                 const AdamHyperparameters& h, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::adam_update";
  check_sizes_not_negative(kName, {n});
  if (n == 0) return;
  check_not_null(kName, {param, grad, exp_avg, exp_avg_sq});
  if (h.amsgrad) check_not_null(kName, {max_exp_avg_sq});
  const AdamConstants<T> c = adam_constants<T>(h);
  const AdamStepConstants<T> s = adam_step_constants<T>(h, step);
  with_adam_flags<T>(h, [&]<bool kCoupledDecay, bool kAmsgrad>() {
    adam_kernel<T, kCoupledDecay, kAmsgrad><<<grid_stride_blocks(n), kBlockThreads, 0, stream>>>(
        n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, c, s);
  });
  check_launch(kName);
}

template <typename T>
void adam_update_many(const AdamTensor<T>* tensors, int64_t count, const AdamHyperparameters& h, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::adam_update_many";
  check_sizes_not_negative(kName, {count});
  for (int64_t k = 0; k < count; ++k) {
    const AdamTensor<T>& t = tensors[k];
    check_sizes_not_negative(kName, {t.n});
    if (t.n == 0) continue;
    check_not_null(kName, {t.param, t.grad, t.exp_avg, t.exp_avg_sq});
    if (h.amsgrad) check_not_null(kName, {t.max_exp_avg_sq});
  }
  AdamLaunch<T> launch{};
  launch.c = adam_constants<T>(h);
  for_each_launch(
      launch, kAdamTensorsPerLaunch, tensors, count,
      [&](AdamTensorArguments<T>& slot, const AdamTensor<T>& t) {
        slot = {t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, t.n, adam_step_constants<T>(h, t.step)};
      },
      [&](int64_t chunks) {
        with_adam_flags<T>(h, [&]<bool kCoupledDecay, bool kAmsgrad>() {
          adam_many_kernel<T, kCoupledDecay, kAmsgrad><<<blocks_for(chunks), kBlockThreads, 0, stream>>>(launch);
        });
        check_launch(kName);
      });
}

template <typename T>
void sum_of_squares(const T* x, int64_t n, double* result, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::sum_of_squares";
  check_sizes_not_negative(kName, {n});
  check_not_null(kName, {result});
  if (n == 0) {
    check_call(cudaMemsetAsync(result, 0, sizeof(double), stream), kName, "cudaMemsetAsync");  // +0.0
    return;
  }
  check_not_null(kName, {x});
  launch_run_sums(x, 1, n, SquareAsDouble{}, result, stream, kName);
}

template <typename T>
struct ScaleOp {
  static constexpr int kPack = kPackSize<T>;
  using Loaded = Pack<T>;
  T* x;
  T factor;
  __device__ void one(int64_t i) const { x[i] = x[i] * factor; }
  __device__ Loaded load(int64_t p) const { return load_pack(x, p); }
  __device__ void store(int64_t p, Loaded v) const {
#pragma unroll
    for (int k = 0; k < kPack; ++k) v.v[k] = v.v[k] * factor;
    store_pack(x, p, v);
  }
};

template <typename T>
void scale_in_place(T* x, int64_t n, T factor, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::scale_in_place";
  if (n > 0) check_not_null(kName, {x});
  launch_map(ScaleOp<T>{x, factor}, n, is_aligned_16(x), stream, kName);
}

#define GRAFT_INSTANTIATE(T)                                                                                    \
  template void sgd_update<T>(int64_t, T*, const T*, T*, bool, const SgdHyperparameters&, Stream);              \
  template void sgd_update_many<T>(const SgdTensor<T>*, int64_t, const SgdHyperparameters&, Stream);            \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, T*, int64_t, const AdamHyperparameters&, Stream); \
  template void adam_update_many<T>(const AdamTensor<T>*, int64_t, const AdamHyperparameters&, Stream);         \
  template void sum_of_squares<T>(const T*, int64_t, double*, Stream);                                          \
  template void scale_in_place<T>(T*, int64_t, T, Stream);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
#undef GRAFT_INSTANTIATE

}  // namespace graft::kernels::cuda
