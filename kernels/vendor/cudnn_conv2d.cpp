// The cuDNN baseline for conv2d (kernels/conv2d.h, namespace vendor): NCHW float tensors, FP32
// arithmetic on the CUDA cores (CUDNN_FMA_MATH: no TF32), groups through the convolution
// descriptor. The algorithm is chosen once per geometry, pass and device with cuDNN's own timing
// search (cudnnFind*Algorithm, which runs every candidate on scratch buffers of its own), taking
// the fastest deterministic FMA algorithm, and kept with its descriptors in a per-thread cache.
// Workspace comes from the stream-ordered allocator on the caller's stream. cuDNN does not accept
// empty tensors, so sums over nothing (no input channels, no output channels) are handled here.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <array>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/conv2d.h"
#include "kernels/cuda/conv2d_checks.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/vendor/cudnn_handle.h"

namespace graft::kernels::vendor {
namespace {

namespace checks = conv2d_checks;

enum class Pass { forward, backward_data, backward_weight };

// Descriptors of one geometry and the algorithm chosen for one pass.
class Plan {
 public:
  Plan(const Conv2dGeometry& g, const char* who) {
    auto dim = [&](int64_t v) {
      if (v > INT_MAX) checks::fail(who, "a size of " + std::to_string(v) + " exceeds cuDNN's 32-bit dimensions");
      return static_cast<int>(v);
    };
    check_cudnn(cudnnCreateTensorDescriptor(&x_), "cudnnCreateTensorDescriptor");
    check_cudnn(cudnnCreateTensorDescriptor(&y_), "cudnnCreateTensorDescriptor");
    check_cudnn(cudnnCreateFilterDescriptor(&w_), "cudnnCreateFilterDescriptor");
    check_cudnn(cudnnCreateConvolutionDescriptor(&conv_), "cudnnCreateConvolutionDescriptor");
    check_cudnn(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, dim(g.batch), dim(g.in_channels),
                                           dim(g.in_h), dim(g.in_w)),
                "cudnnSetTensor4dDescriptor (x)");
    check_cudnn(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, dim(g.batch), dim(g.out_channels),
                                           dim(g.out_h()), dim(g.out_w())),
                "cudnnSetTensor4dDescriptor (y)");
    check_cudnn(cudnnSetFilter4dDescriptor(w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, dim(g.out_channels),
                                           dim(g.in_channels_per_group()), dim(g.kernel_h), dim(g.kernel_w)),
                "cudnnSetFilter4dDescriptor");
    check_cudnn(cudnnSetConvolution2dDescriptor(conv_, dim(g.pad_h), dim(g.pad_w), dim(g.stride_h), dim(g.stride_w),
                                                dim(g.dilation_h), dim(g.dilation_w), CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT),
                "cudnnSetConvolution2dDescriptor");
    check_cudnn(cudnnSetConvolutionGroupCount(conv_, dim(g.groups)), "cudnnSetConvolutionGroupCount");
    check_cudnn(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
  }
  ~Plan() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(x_);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  int algo = 0;
  size_t workspace_bytes = 0;
};

// The fastest result that succeeded, is deterministic and does not use the tensor cores (cuDNN
// lists them fastest first; some versions report CUDNN_DEFAULT_MATH for FMA kernels, and the
// descriptor keeps CUDNN_FMA_MATH for the runs either way).
template <typename Perf>
const Perf& pick(const Perf* results, int count, const char* who) {
  for (int i = 0; i < count; ++i)
    if (results[i].status == CUDNN_STATUS_SUCCESS && results[i].determinism == CUDNN_DETERMINISTIC &&
        results[i].mathType != CUDNN_TENSOR_OP_MATH && results[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      return results[i];
  throw std::runtime_error(std::string(who) + ": cuDNN offers no deterministic FP32 (FMA) algorithm for this geometry");
}

// The plan for (geometry, pass) on the current device, searched for on first use.
Plan& plan_for(const Conv2dGeometry& g, Pass pass, cudnnHandle_t handle, const char* who) {
  using Key = std::array<int64_t, 16>;
  thread_local std::map<Key, std::unique_ptr<Plan>> plans;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string(who) + ": cudaGetDevice failed");
  }
  const Key key{g.batch,    g.in_channels, g.in_h,       g.in_w,       g.out_channels, g.kernel_h,
                g.kernel_w, g.stride_h,    g.stride_w,   g.pad_h,      g.pad_w,        g.dilation_h,
                g.dilation_w, g.groups,    int64_t(pass), int64_t(device)};
  std::unique_ptr<Plan>& slot = plans[key];
  if (slot) return *slot;
  auto plan = std::make_unique<Plan>(g, who);
  constexpr int kRequested = 16;
  int returned = 0;
  switch (pass) {
    case Pass::forward: {
      cudnnConvolutionFwdAlgoPerf_t results[kRequested];
      check_cudnn(cudnnFindConvolutionForwardAlgorithm(handle, plan->x_, plan->w_, plan->conv_, plan->y_, kRequested,
                                                       &returned, results),
                  "cudnnFindConvolutionForwardAlgorithm");
      const auto& best = pick(results, returned, who);
      plan->algo = best.algo;
      check_cudnn(cudnnGetConvolutionForwardWorkspaceSize(handle, plan->x_, plan->w_, plan->conv_, plan->y_, best.algo,
                                                          &plan->workspace_bytes),
                  "cudnnGetConvolutionForwardWorkspaceSize");
      break;
    }
    case Pass::backward_data: {
      cudnnConvolutionBwdDataAlgoPerf_t results[kRequested];
      check_cudnn(cudnnFindConvolutionBackwardDataAlgorithm(handle, plan->w_, plan->y_, plan->conv_, plan->x_,
                                                            kRequested, &returned, results),
                  "cudnnFindConvolutionBackwardDataAlgorithm");
      const auto& best = pick(results, returned, who);
      plan->algo = best.algo;
      check_cudnn(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, plan->w_, plan->y_, plan->conv_, plan->x_,
                                                               best.algo, &plan->workspace_bytes),
                  "cudnnGetConvolutionBackwardDataWorkspaceSize");
      break;
    }
    case Pass::backward_weight: {
      cudnnConvolutionBwdFilterAlgoPerf_t results[kRequested];
      check_cudnn(cudnnFindConvolutionBackwardFilterAlgorithm(handle, plan->x_, plan->y_, plan->conv_, plan->w_,
                                                              kRequested, &returned, results),
                  "cudnnFindConvolutionBackwardFilterAlgorithm");
      const auto& best = pick(results, returned, who);
      plan->algo = best.algo;
      check_cudnn(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, plan->x_, plan->y_, plan->conv_, plan->w_,
                                                                 best.algo, &plan->workspace_bytes),
                  "cudnnGetConvolutionBackwardFilterWorkspaceSize");
      break;
    }
  }
  slot = std::move(plan);
  return *slot;
}

// Workspace for one call, from the stream-ordered allocator (none when the algorithm needs none).
class Workspace {
 public:
  Workspace(size_t bytes, cudaStream_t stream, const char* who)
      : scratch_(bytes > 0 ? std::make_unique<cuda::StreamScratch>(bytes, stream, who) : nullptr) {}
  void* get() const { return scratch_ ? scratch_->as<void>() : nullptr; }

 private:
  std::unique_ptr<cuda::StreamScratch> scratch_;
};

// Descriptors of y (or dy) and of the bias as a 1 x C x 1 x 1 tensor that broadcasts over it.
class BiasDescriptors {
 public:
  explicit BiasDescriptors(const Conv2dGeometry& g) {
    check_cudnn(cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor");
    check_cudnn(cudnnCreateTensorDescriptor(&bias), "cudnnCreateTensorDescriptor");
    check_cudnn(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(g.batch),
                                           static_cast<int>(g.out_channels), static_cast<int>(g.out_h()),
                                           static_cast<int>(g.out_w())),
                "cudnnSetTensor4dDescriptor (y)");
    check_cudnn(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                           static_cast<int>(g.out_channels), 1, 1),
                "cudnnSetTensor4dDescriptor (bias)");
  }
  ~BiasDescriptors() {
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
  }
  BiasDescriptors(const BiasDescriptors&) = delete;
  BiasDescriptors& operator=(const BiasDescriptors&) = delete;

  cudnnTensorDescriptor_t y = nullptr, bias = nullptr;
};

void zero(float* p, int64_t elements, cudaStream_t stream, const char* who) {
  if (elements > 0)
    cuda::check_call(cudaMemsetAsync(p, 0, static_cast<size_t>(elements) * sizeof(float), stream), who,
                     "cudaMemsetAsync");
}

}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y,
                    Stream stream) {
  constexpr const char* kWho = "graft::kernels::vendor::conv2d_forward";
  checks::check_geometry(kWho, g);
  checks::check_pointer(kWho, x, "x", checks::x_elements(g));
  checks::check_pointer(kWho, w, "w", checks::w_elements(g));
  checks::check_pointer(kWho, y, "y", checks::y_elements(g));
  if (checks::y_elements(g) == 0) return;
  cudnnHandle_t handle = cudnn_handle(stream);
  const float one = 1.0f, nothing = 0.0f;
  if (g.in_channels == 0) {
    zero(y, checks::y_elements(g), stream, kWho);  // a sum over no input channels
  } else {
    Plan& plan = plan_for(g, Pass::forward, handle, kWho);
    Workspace workspace(plan.workspace_bytes, stream, kWho);
    check_cudnn(cudnnConvolutionForward(handle, &one, plan.x_, x, plan.w_, w, plan.conv_,
                                        static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo), workspace.get(),
                                        plan.workspace_bytes, &nothing, plan.y_, y),
                "cudnnConvolutionForward");
  }
  if (bias != nullptr) {
    const BiasDescriptors d(g);
    check_cudnn(cudnnAddTensor(handle, &one, d.bias, bias, &one, d.y, y), "cudnnAddTensor");
  }
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Stream stream) {
  constexpr const char* kWho = "graft::kernels::vendor::conv2d_backward_data";
  checks::check_geometry(kWho, g);
  checks::check_pointer(kWho, dy, "dy", checks::y_elements(g));
  checks::check_pointer(kWho, w, "w", checks::w_elements(g));
  checks::check_pointer(kWho, dx, "dx", checks::x_elements(g));
  if (checks::x_elements(g) == 0) return;
  if (g.out_channels == 0) return zero(dx, checks::x_elements(g), stream, kWho);
  cudnnHandle_t handle = cudnn_handle(stream);
  Plan& plan = plan_for(g, Pass::backward_data, handle, kWho);
  Workspace workspace(plan.workspace_bytes, stream, kWho);
  const float one = 1.0f, nothing = 0.0f;
  check_cudnn(cudnnConvolutionBackwardData(handle, &one, plan.w_, w, plan.y_, dy, plan.conv_,
                                           static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo), workspace.get(),
                                           plan.workspace_bytes, &nothing, plan.x_, dx),
              "cudnnConvolutionBackwardData");
}

void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                            Stream stream) {
  constexpr const char* kWho = "graft::kernels::vendor::conv2d_backward_weight";
  checks::check_geometry(kWho, g);
  checks::check_pointer(kWho, x, "x", checks::x_elements(g));
  checks::check_pointer(kWho, dy, "dy", checks::y_elements(g));
  checks::check_pointer(kWho, dw, "dw", checks::w_elements(g));
  if (g.batch == 0 || g.out_channels == 0) {  // sums over no pixels, or nothing to write
    zero(dw, checks::w_elements(g), stream, kWho);
    if (dbias != nullptr) zero(dbias, g.out_channels, stream, kWho);
    return;
  }
  cudnnHandle_t handle = cudnn_handle(stream);
  const float one = 1.0f, nothing = 0.0f;
  if (g.in_channels > 0) {
    Plan& plan = plan_for(g, Pass::backward_weight, handle, kWho);
    Workspace workspace(plan.workspace_bytes, stream, kWho);
    check_cudnn(cudnnConvolutionBackwardFilter(handle, &one, plan.x_, x, plan.y_, dy, plan.conv_,
                                               static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo),
                                               workspace.get(), plan.workspace_bytes, &nothing, plan.w_, dw),
                "cudnnConvolutionBackwardFilter");
  }
  if (dbias != nullptr) {
    const BiasDescriptors d(g);
    check_cudnn(cudnnConvolutionBackwardBias(handle, &one, d.y, dy, &nothing, d.bias, dbias),
                "cudnnConvolutionBackwardBias");
  }
}

}  // namespace graft::kernels::vendor
