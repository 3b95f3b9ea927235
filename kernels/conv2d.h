#pragma once
// 2-D convolution over raw NCHW buffers (cross-correlation, as PyTorch defines conv2d).
//   x: [batch, in_channels, in_h, in_w]
//   w: [out_channels, in_channels / groups, kernel_h, kernel_w]
//   y: [batch, out_channels, out_h, out_w]
// All buffers contiguous. T is float or double (the CUDA and cuDNN variants: float, device
// pointers, launched asynchronously on `stream`).
#include <cstdint>

#include "kernels/stream.h"

namespace graft::kernels {

struct Conv2dGeometry {
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;

  int64_t out_h() const { return (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  int64_t in_channels_per_group() const { return in_channels / groups; }
  int64_t out_channels_per_group() const { return out_channels / groups; }
  // Multiply-adds of the forward pass (each backward pass costs the same).
  int64_t macs() const {
    return batch * out_channels * out_h() * out_w() * in_channels_per_group() * kernel_h * kernel_w;
  }
};

namespace cpu {

// y = conv(x, w) + bias; bias may be null.
template <typename T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y);
// dx = gradient w.r.t. x given dy (dx is overwritten).
template <typename T>
void conv2d_backward_data(const Conv2dGeometry& g, const T* dy, const T* w, T* dx);
// dw (and dbias when not null) = gradients w.r.t. the weight and bias (overwritten).
template <typename T>
void conv2d_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw, T* dbias);

// Direct seven-loop convolution: the oracle for tests of the fast paths.
template <typename T>
void conv2d_forward_reference(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y);

}  // namespace cpu

namespace cuda {

// Hand-written implicit GEMMs on the CUDA cores (kernels/cuda/conv2d_*.cu): the input is gathered
// tile by tile into shared memory, never expanded into a column matrix in global memory. Same
// meaning as the CPU twins; results repeat bit for bit (no floating-point atomics).
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y,
                    Stream stream);
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Stream stream);
// dw is overwritten; dbias (may be null) is overwritten with the sum of dy over batch and space.
void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                            Stream stream);

}  // namespace cuda

namespace vendor {

// cuDNN with the same signatures and meaning (kernels/vendor/cudnn_conv2d.cpp): FP32 arithmetic
// without TF32 (CUDNN_FMA_MATH), the fastest algorithm cuDNN finds, cached per geometry.
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y,
                    Stream stream);
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, Stream stream);
void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                            Stream stream);

}  // namespace vendor
}  // namespace graft::kernels
