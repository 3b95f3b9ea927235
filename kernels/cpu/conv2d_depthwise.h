#pragma once
// Direct loops for convolutions whose groups see one input channel each (depthwise, and any
// single-channel input): the lowered GEMM would have a single-row inner dimension per tap set,
// too thin to be worth packing. Internal to the CPU convolution kernels; same contracts as
// kernels/conv2d.h, for geometries with in_channels_per_group() == 1.
#include "kernels/conv2d.h"

namespace graft::kernels::cpu {

template <typename T>
void depthwise_forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void depthwise_backward_data(const Conv2dGeometry& g, const T* dy, const T* w, T* dx);
// The weight gradient only; the bias gradient is the same for every convolution.
template <typename T>
void depthwise_backward_weight(const Conv2dGeometry& g, const T* x, const T* dy, T* dw);

}  // namespace graft::kernels::cpu
