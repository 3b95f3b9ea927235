#pragma once
// Elementwise kernels over raw buffers. T is float or double.
#include <cstdint>

#include "kernels/stream.h"

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

// The CUDA twins: same meaning, device pointers for the data, queued on `stream` (nothing waits for
// the GPU). Sizes and scalars are host values. Results equal the CPU twins bit for bit; axpy fuses
// its multiply-add, as the CPU twin does when compiled for a CPU with FMA (-march=native), and
// otherwise differs from it by one rounding.
namespace graft::kernels::cuda {

using cpu::BinaryOp;
using cpu::kMaxDims;

// shape, a_strides and b_strides are host arrays of ndim (0..kMaxDims) values, read during the
// call. Contiguous operands of the same shape and scalar operands take a vectorized path; any
// other broadcast walks the coalesced index space. Throws std::invalid_argument for ndim outside
// [0, kMaxDims], negative sizes or null pointers (as do the other kernels here).
template <typename T>
void binary_broadcast(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides,
                      const T* b, const int64_t* b_strides, T* out, Stream stream);

template <typename T>
void relu_forward(const T* x, int64_t n, T* y, Stream stream);
template <typename T>
void relu_backward(const T* dy, const T* y, int64_t n, T* dx, Stream stream);
template <typename T>
void masked_scale(const T* x, const uint8_t* mask, T scale, int64_t n, T* y, Stream stream);
// y = alpha * x + y, rounded once (a fused multiply-add).
template <typename T>
void axpy(int64_t n, T alpha, const T* x, T* y, Stream stream);
template <typename T>
void fill(T* x, int64_t n, T value, Stream stream);

}  // namespace graft::kernels::cuda
