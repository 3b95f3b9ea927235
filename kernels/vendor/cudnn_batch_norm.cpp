// The cuDNN baseline for batch norm, with graft's signatures and meaning (kernels/batch_norm.h),
// float only: cudnnBatchNormalization{ForwardTraining, ForwardInference, Backward} in
// CUDNN_BATCHNORM_SPATIAL mode, x seen as an [n, c, hw, 1] NCHW tensor, so statistics are per
// channel over n * hw values ([N, C] inputs are hw = 1).
//
// What makes the meanings match:
// - exponentialAverageFactor is graft's momentum: running = factor * batch + (1 - factor) * running;
// - cuDNN folds the unbiased batch variance into the running variance, as graft (and PyTorch) do;
// - what cuDNN calls the saved inverse variance is 1/sqrt(biased var + eps), graft's save_invstd,
//   and its backward takes it back as is (epsilon is then not used: the nominal value below).
// Where graft accepts null pointers and cuDNN does not, stream-ordered scratch memory stands in:
// gamma = 1 and beta = 0 (set by cudnnSetTensor), a running statistic cuDNN must update when only
// the other is kept, and gradients the caller does not want. cuDNN cannot describe an empty batch:
// there the CPU twin's results (NaN statistics, zero dgamma/dbeta) are written with memsets.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <climits>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "kernels/batch_norm.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/vendor/cudnn_handle.h"

namespace graft::kernels::vendor {
namespace {

using cuda::check_call;
using cuda::check_not_null;
using cuda::check_sizes_not_negative;
using cuda::StreamScratch;

// cuDNN's backward takes an epsilon even when it is given the saved statistics (which it then uses).
constexpr double kNominalBackwardEps = 1e-5;

class TensorDescriptor {
 public:
  TensorDescriptor() { check_cudnn(cudnnCreateTensorDescriptor(&descriptor_), "cudnnCreateTensorDescriptor"); }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(descriptor_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return descriptor_; }

 private:
  cudnnTensorDescriptor_t descriptor_ = nullptr;
};

// x (and y, dy, dx) as [n, c, hw, 1], and the [1, c, 1, 1] tensor of per-channel values cuDNN
// derives from it for SPATIAL mode.
struct BatchNormDescriptors {
  TensorDescriptor data, channel;
  BatchNormDescriptors(int64_t n, int64_t c, int64_t hw, const char* kernel) {
    if (n > INT_MAX || c > INT_MAX || hw > INT_MAX || n * c * hw > INT_MAX)
      throw std::invalid_argument(std::string(kernel) + ": cuDNN takes at most 2^31 - 1 elements, got [" +
                                  std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(hw) + "]");
    check_cudnn(cudnnSetTensor4dDescriptor(data.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(n), int(c), int(hw), 1),
                "cudnnSetTensor4dDescriptor");
    check_cudnn(cudnnDeriveBNTensorDescriptor(channel.get(), data.get(), CUDNN_BATCHNORM_SPATIAL),
                "cudnnDeriveBNTensorDescriptor");
  }
};

// `given` when it is not null, else c floats of scratch memory set to `value` (or left unset when
// value_or_null is null: an output nobody reads).
class ChannelBuffer {
 public:
  ChannelBuffer(const float* given, int64_t count, const float* value_or_null, cudnnHandle_t handle,
                cudnnTensorDescriptor_t descriptor, cudaStream_t stream, const char* kernel) {
    if (given != nullptr) {
      ptr_ = const_cast<float*>(given);
      return;
    }
    scratch_.emplace(size_t(count) * sizeof(float), stream, kernel);
    ptr_ = scratch_->as<float>();
    if (value_or_null != nullptr)
      check_cudnn(cudnnSetTensor(handle, descriptor, ptr_, value_or_null), "cudnnSetTensor");
  }
  float* get() const { return ptr_; }

 private:
  std::optional<StreamScratch> scratch_;
  float* ptr_ = nullptr;
};

// Every byte 0xff: a NaN in every float.
void fill_nan(float* p, int64_t count, cudaStream_t stream, const char* kernel) {
  if (p != nullptr)
    check_call(cudaMemsetAsync(p, 0xff, size_t(count) * sizeof(float), stream), kernel, "cudaMemsetAsync");
}

void fill_zero(float* p, int64_t count, cudaStream_t stream, const char* kernel) {
  if (p != nullptr)
    check_call(cudaMemsetAsync(p, 0, size_t(count) * sizeof(float), stream), kernel, "cudaMemsetAsync");
}

const float kOne = 1.0f, kZero = 0.0f;

}  // namespace

void batch_norm_forward_train(const float* x, int64_t n, int64_t c, int64_t hw, const float* gamma, const float* beta,
                              double eps, double momentum, float* running_mean, float* running_var, float* y,
                              float* save_mean, float* save_invstd, Stream stream) {
  constexpr const char* kName = "graft::kernels::vendor::batch_norm_forward_train";
  check_sizes_not_negative(kName, {n, c, hw});
  if (c == 0) return;
  check_not_null(kName, {save_mean, save_invstd});
  if (n * hw == 0) {  // the mean of nothing
    for (float* p : {save_mean, save_invstd, running_mean, running_var}) fill_nan(p, c, stream, kName);
    return;
  }
  check_not_null(kName, {x, y});
  const BatchNormDescriptors d(n, c, hw, kName);
  cudnnHandle_t handle = cudnn_handle(stream);
  const ChannelBuffer scale(gamma, c, &kOne, handle, d.channel.get(), stream, kName);
  const ChannelBuffer bias(beta, c, &kZero, handle, d.channel.get(), stream, kName);
  // cuDNN updates both running statistics or neither.
  std::optional<ChannelBuffer> mean, var;
  if (running_mean != nullptr || running_var != nullptr) {
    mean.emplace(running_mean, c, nullptr, handle, d.channel.get(), stream, kName);
    var.emplace(running_var, c, nullptr, handle, d.channel.get(), stream, kName);
  }
  check_cudnn(cudnnBatchNormalizationForwardTraining(handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, d.data.get(), x,
                                                     d.data.get(), y, d.channel.get(), scale.get(), bias.get(),
                                                     momentum, mean ? mean->get() : nullptr,
                                                     var ? var->get() : nullptr, eps, save_mean, save_invstd),
              "cudnnBatchNormalizationForwardTraining");
}

void batch_norm_forward_eval(const float* x, int64_t n, int64_t c, int64_t hw, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, double eps, float* y,
                             Stream stream) {
  constexpr const char* kName = "graft::kernels::vendor::batch_norm_forward_eval";
  check_sizes_not_negative(kName, {n, c, hw});
  if (n * c * hw == 0) return;
  check_not_null(kName, {x, y, running_mean, running_var});
  const BatchNormDescriptors d(n, c, hw, kName);
  cudnnHandle_t handle = cudnn_handle(stream);
  const ChannelBuffer scale(gamma, c, &kOne, handle, d.channel.get(), stream, kName);
  const ChannelBuffer bias(beta, c, &kZero, handle, d.channel.get(), stream, kName);
  check_cudnn(cudnnBatchNormalizationForwardInference(handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, d.data.get(), x,
                                                      d.data.get(), y, d.channel.get(), scale.get(), bias.get(),
                                                      running_mean, running_var, eps),
              "cudnnBatchNormalizationForwardInference");
}

void batch_norm_backward_train(const float* dy, const float* x, int64_t n, int64_t c, int64_t hw, const float* gamma,
                               const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                               float* dbeta, Stream stream) {
  constexpr const char* kName = "graft::kernels::vendor::batch_norm_backward_train";
  check_sizes_not_negative(kName, {n, c, hw});
  if (c == 0 || (dx == nullptr && dgamma == nullptr && dbeta == nullptr)) return;
  check_not_null(kName, {save_mean, save_invstd});
  if (n * hw == 0) {  // sums over nothing
    fill_zero(dgamma, c, stream, kName);
    fill_zero(dbeta, c, stream, kName);
    return;
  }
  check_not_null(kName, {dy, x});
  const BatchNormDescriptors d(n, c, hw, kName);
  cudnnHandle_t handle = cudnn_handle(stream);
  const ChannelBuffer scale(gamma, c, &kOne, handle, d.channel.get(), stream, kName);
  const ChannelBuffer scale_grad(dgamma, c, nullptr, handle, d.channel.get(), stream, kName);
  const ChannelBuffer bias_grad(dbeta, c, nullptr, handle, d.channel.get(), stream, kName);
  const ChannelBuffer data_grad(dx, n * c * hw, nullptr, handle, d.data.get(), stream, kName);
  check_cudnn(cudnnBatchNormalizationBackward(handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero,
                                              d.data.get(), x, d.data.get(), dy, d.data.get(), data_grad.get(),
                                              d.channel.get(), scale.get(), scale_grad.get(), bias_grad.get(),
                                              kNominalBackwardEps, save_mean, save_invstd),
              "cudnnBatchNormalizationBackward");
}

}  // namespace graft::kernels::vendor
