#pragma once
// 2-D pooling over raw buffers of `planes` independent [in_h, in_w] planes (planes = N * C).
// The caller computes out_h/out_w (padding and ceil_mode rules live in the op).
#include <cstdint>

#include "kernels/stream.h"

namespace graft::kernels {

struct Pool2dGeometry {
  int64_t planes = 1, in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pooling only
};

namespace cpu {

// y = max over each window (padding never wins); indices = argmax as h * in_w + w within the
// plane, as PyTorch returns them. NaN propagates.
template <typename T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, int64_t* indices);
// dx (overwritten) = scatter-add of dy at the saved indices.
template <typename T>
void max_pool2d_backward(const Pool2dGeometry& g, const T* dy, const int64_t* indices, T* dx);

// Average over each window. The divisor is the window size clipped to the padded input when
// count_include_pad, else the number of real input elements (PyTorch's rules, ceil_mode included).
template <typename T>
void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const T* x, T* y);
template <typename T>
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const T* dy, T* dx);

// Adaptive average pooling: window i spans [floor(i*in/out), ceil((i+1)*in/out)).
template <typename T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                                 int64_t out_w, const T* x, T* y);
template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                                  int64_t out_w, const T* dy, T* dx);

}  // namespace cpu

// The CUDA twins (kernels/cuda/pool2d.cu): the same signatures plus the stream, device pointers,
// queued on `stream`. One thread per output element (forward) or per input element (backward).
// The backward passes gather, never scatter: each dx element adds the outputs that reach it in
// increasing output order, as the CPU twin's scatter does, so dx equals the CPU twin's bit for bit
// and repeats from run to run (no atomics). Max pooling equals the CPU twin bit for bit (values,
// NaN rule and indices); avg pooling sums in double in the same order as the CPU twin; adaptive
// forward within one rounding of T. A max-pooling output whose window lies wholly in the padding
// (no op asks for one) reports its CPU twin's index but passes no gradient back. Throw
// std::invalid_argument on negative sizes, kernel/stride/dilation below 1, negative padding or
// a null pointer the call needs.
namespace cuda {

template <typename T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, int64_t* indices, Stream stream);
template <typename T>
void max_pool2d_backward(const Pool2dGeometry& g, const T* dy, const int64_t* indices, T* dx,
                         Stream stream);

template <typename T>
void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const T* x, T* y,
                        Stream stream);
template <typename T>
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const T* dy, T* dx,
                         Stream stream);

template <typename T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                                 int64_t out_w, const T* x, T* y, Stream stream);
template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                                  int64_t out_w, const T* dy, T* dx, Stream stream);

}  // namespace cuda
}  // namespace graft::kernels
