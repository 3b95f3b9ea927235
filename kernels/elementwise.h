#pragma once
// Elementwise kernels over raw buffers. T is float or double.
#include <cstdint>

namespace graft::kernels::cpu {

enum class BinaryOp { add, sub, mul, div };

constexpr int kMaxDims = 8;

// out[i] = a[...] op b[...] for every index i of `shape` (row-major, out contiguous). a and b
// are addressed by element strides over the same shape: a stride of 0 broadcasts that dim.
template <typename T>
void binary_broadcast(BinaryOp op, int ndim, const int64_t* shape, const T* a,
                      const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out);

// y = max(x, 0); NaN stays NaN.
template <typename T>
void relu_forward(const T* x, int64_t n, T* y);
// dx = 0 where y <= 0, else dy (a NaN output passes the gradient through, as in PyTorch).
template <typename T>
void relu_backward(const T* dy, const T* y, int64_t n, T* dx);

// y = x * mask * scale (mask holds 0 or 1). Dropout's forward and backward are both this.
template <typename T>
void masked_scale(const T* x, const uint8_t* mask, T scale, int64_t n, T* y);

// y = alpha * x + y.
template <typename T>
void axpy(int64_t n, T alpha, const T* x, T* y);

// x[i] = value.
template <typename T>
void fill(T* x, int64_t n, T value);

}  // namespace graft::kernels::cpu
