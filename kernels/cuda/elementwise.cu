// Elementwise kernels on the GPU. They move memory and do one or two operations per element, so
// what matters is bandwidth: every kernel is a grid-stride loop (kernels/cuda/map.cuh) and, when
// its pointers are 16-byte aligned, reads and writes 16-byte packs (kernels/cuda/pack.cuh), with the
// last n % pack elements done one at a time.
//
// binary_broadcast first coalesces the geometry as the CPU twin does (size-1 dims dropped,
// neighbouring dims merged where both operands step through them as one run). Same-shape contiguous
// operands, or a contiguous operand with a scalar, then become the packed map; everything else walks
// the output index space, finding each operand's offset by dividing the output index by the dim
// sizes. Below 2^31 elements that walk uses 32-bit indices and FastDivmod (no divide instructions).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/cuda/broadcast_walk.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/map.cuh"
#include "kernels/cuda/pack.cuh"
#include "kernels/cuda/rounding.cuh"
#include "kernels/broadcast_layout.h"
#include "kernels/elementwise.h"

namespace graft::kernels::cuda {
namespace {

template <typename T>
struct ReluForwardOp {
  static constexpr int kPack = kPackSize<T>;
  using Loaded = Pack<T>;
  const T* x;
  T* y;
  // `x < 0 ? 0 : x` keeps NaN (the comparison is false) and -0, as the CPU twin and torch do.
  __device__ static T relu(T v) { return v < T(0) ? T(0) : v; }
  __device__ void one(int64_t i) const { y[i] = relu(x[i]); }
  __device__ Loaded load(int64_t p) const { return load_pack(x, p); }
  __device__ void store(int64_t p, Loaded v) const {
#pragma unroll
    for (int k = 0; k < kPack; ++k) v.v[k] = relu(v.v[k]);
    store_pack(y, p, v);
  }
};

template <typename T>
struct ReluBackwardOp {
  static constexpr int kPack = kPackSize<T>;
  struct Loaded {
    Pack<T> dy, y;
  };
  const T* dy;
  const T* y;
  T* dx;
  // A NaN output passes the gradient through (the comparison is false), as in PyTorch.
  __device__ static T grad(T g, T out) { return out <= T(0) ? T(0) : g; }
  __device__ void one(int64_t i) const { dx[i] = grad(dy[i], y[i]); }
  __device__ Loaded load(int64_t p) const { return {load_pack(dy, p), load_pack(y, p)}; }
  __device__ void store(int64_t p, Loaded in) const {
#pragma unroll
    for (int k = 0; k < kPack; ++k) in.dy.v[k] = grad(in.dy.v[k], in.y.v[k]);
    store_pack(dx, p, in.dy);
  }
};

template <typename T>
struct MaskedScaleOp {
  static constexpr int kPack = kPackSize<T>;
  // The mask bytes of one pack, read as one integer (the GPU is little-endian: byte k is element k).
  using MaskBits = std::conditional_t<kPack == 4, uint32_t, uint16_t>;
  struct Loaded {
    Pack<T> x;
    MaskBits mask;
  };
  const T* x;
  const uint8_t* mask;
  T scale;
  T* y;
  __device__ void one(int64_t i) const { y[i] = x[i] * T(mask[i]) * scale; }
  __device__ Loaded load(int64_t p) const { return {load_pack(x, p), reinterpret_cast<const MaskBits*>(mask)[p]}; }
  __device__ void store(int64_t p, Loaded in) const {
#pragma unroll
    for (int k = 0; k < kPack; ++k) in.x.v[k] = in.x.v[k] * T((uint32_t(in.mask) >> (8 * k)) & 0xffu) * scale;
    store_pack(y, p, in.x);
  }
};

template <typename T>
struct AxpyOp {
  static constexpr int kPack = kPackSize<T>;
  struct Loaded {
    Pack<T> x, y;
  };
  T alpha;
  const T* x;
  T* y;
  __device__ void one(int64_t i) const { y[i] = fused_multiply_add(alpha, x[i], y[i]); }
  __device__ Loaded load(int64_t p) const { return {load_pack(x, p), load_pack(y, p)}; }
  __device__ void store(int64_t p, Loaded in) const {
#pragma unroll
    for (int k = 0; k < kPack; ++k) in.y.v[k] = fused_multiply_add(alpha, in.x.v[k], in.y.v[k]);
    store_pack(y, p, in.y);
  }
};

template <typename T>
struct FillOp {
  static constexpr int kPack = kPackSize<T>;
  struct Loaded {};
  T* x;
  T value;
  __device__ void one(int64_t i) const { x[i] = value; }
  __device__ Loaded load(int64_t) const { return {}; }
  __device__ void store(int64_t p, Loaded) const {
    Pack<T> v;
#pragma unroll
    for (int k = 0; k < kPack; ++k) v.v[k] = value;
    store_pack(x, p, v);
  }
};

struct Add {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};
struct Sub {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a - b;
  }
};
struct Mul {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a * b;
  }
};
struct Div {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return rounded_divide(a, b);
  }
};

// out = a op b over n contiguous elements, where a scalar operand is one element read for all.
template <typename Fn, typename T, bool kAScalar, bool kBScalar>
struct BinaryContiguousOp {
  static constexpr int kPack = kPackSize<T>;
  struct Loaded {
    Pack<T> a, b;
  };
  Fn fn;
  const T* a;
  const T* b;
  T* out;
  __device__ void one(int64_t i) const { out[i] = fn(a[kAScalar ? 0 : i], b[kBScalar ? 0 : i]); }
  __device__ static Pack<T> operand(const T* base, int64_t p, bool scalar) {
    Pack<T> v;
    if (scalar) {
#pragma unroll
      for (int k = 0; k < kPack; ++k) v.v[k] = base[0];
    } else {
      v = load_pack(base, p);
    }
    return v;
  }
  __device__ Loaded load(int64_t p) const { return {operand(a, p, kAScalar), operand(b, p, kBScalar)}; }
  __device__ void store(int64_t p, Loaded in) const {
#pragma unroll
    for (int k = 0; k < kPack; ++k) in.b.v[k] = fn(in.a.v[k], in.b.v[k]);
    store_pack(out, p, in.b);
  }
};

using Layout = BroadcastLayout;

// Output element i of `total` (Index: uint32_t below 2^31 elements, else int64_t).
template <typename Fn, typename T, typename Index, typename Divider>
__global__ void broadcast_kernel(Fn fn, const BroadcastWalk<Divider> walk, const T* a, const T* b, T* out,
                                 Index total) {
  const Index stride = Index(gridDim.x) * Index(blockDim.x);
  for (Index i = Index(blockIdx.x) * Index(blockDim.x) + threadIdx.x; i < total; i += stride) {
    int64_t a_offset, b_offset;
    walk_offsets(walk, i, a_offset, b_offset);
    out[i] = fn(a[a_offset], b[b_offset]);
  }
}

template <typename Fn, typename T>
void broadcast(Fn fn, const Layout& l, int64_t total, const T* a, const T* b, T* out, cudaStream_t stream,
               const char* kernel) {
  if (l.ndim == 1) {
    const bool a_contiguous = l.a[0] == 1, b_contiguous = l.b[0] == 1;
    const bool a_scalar = l.a[0] == 0, b_scalar = l.b[0] == 0;
    const bool packed = is_aligned_16(out) && (a_scalar || is_aligned_16(a)) && (b_scalar || is_aligned_16(b));
    if (a_contiguous && b_contiguous)
      return launch_map(BinaryContiguousOp<Fn, T, false, false>{fn, a, b, out}, total, packed, stream, kernel);
    if (a_contiguous && b_scalar)
      return launch_map(BinaryContiguousOp<Fn, T, false, true>{fn, a, b, out}, total, packed, stream, kernel);
    if (a_scalar && b_contiguous)
      return launch_map(BinaryContiguousOp<Fn, T, true, false>{fn, a, b, out}, total, packed, stream, kernel);
  }
  const int blocks = grid_stride_blocks(total);
  if (total <= INT32_MAX) {
    broadcast_kernel<<<blocks, kBlockThreads, 0, stream>>>(fn, make_walk<FastDivmod>(l), a, b, out, uint32_t(total));
  } else {
    broadcast_kernel<<<blocks, kBlockThreads, 0, stream>>>(fn, make_walk<WideDivider>(l), a, b, out, total);
  }
  check_launch(kernel);
}

}  // namespace

template <typename T>
void binary_broadcast(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
                      const int64_t* b_strides, T* out, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::binary_broadcast";
  if (ndim < 0 || ndim > kMaxDims)
    throw std::invalid_argument(std::string(kName) + ": ndim must be in [0, " + std::to_string(kMaxDims) + "], got " +
                                std::to_string(ndim));
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    check_sizes_not_negative(kName, {shape[d]});
    total *= shape[d];
  }
  if (total == 0) return;
  check_not_null(kName, {a, b, out});
  const Layout l = coalesce_broadcast(ndim, shape, a_strides, b_strides);
  switch (op) {
    case BinaryOp::add:
      return broadcast(Add{}, l, total, a, b, out, stream, kName);
    case BinaryOp::sub:
      return broadcast(Sub{}, l, total, a, b, out, stream, kName);
    case BinaryOp::mul:
      return broadcast(Mul{}, l, total, a, b, out, stream, kName);
    case BinaryOp::div:
      return broadcast(Div{}, l, total, a, b, out, stream, kName);
  }
  throw std::invalid_argument(std::string(kName) + ": unknown BinaryOp " + std::to_string(int(op)));
}

template <typename T>
void relu_forward(const T* x, int64_t n, T* y, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::relu_forward";
  if (n > 0) check_not_null(kName, {x, y});
  launch_map(ReluForwardOp<T>{x, y}, n, is_aligned_16(x) && is_aligned_16(y), stream, kName);
}

template <typename T>
void relu_backward(const T* dy, const T* y, int64_t n, T* dx, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::relu_backward";
  if (n > 0) check_not_null(kName, {dy, y, dx});
  launch_map(ReluBackwardOp<T>{dy, y, dx}, n, is_aligned_16(dy) && is_aligned_16(y) && is_aligned_16(dx), stream,
             kName);
}

template <typename T>
void masked_scale(const T* x, const uint8_t* mask, T scale, int64_t n, T* y, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::masked_scale";
  if (n > 0) check_not_null(kName, {x, mask, y});
  const bool mask_aligned = reinterpret_cast<uintptr_t>(mask) % kPackSize<T> == 0;
  launch_map(MaskedScaleOp<T>{x, mask, scale, y}, n, is_aligned_16(x) && is_aligned_16(y) && mask_aligned, stream,
             kName);
}

template <typename T>
void axpy(int64_t n, T alpha, const T* x, T* y, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::axpy";
  if (n > 0) check_not_null(kName, {x, y});
  launch_map(AxpyOp<T>{alpha, x, y}, n, is_aligned_16(x) && is_aligned_16(y), stream, kName);
}

template <typename T>
void fill(T* x, int64_t n, T value, Stream stream) {
  constexpr const char* kName = "graft::kernels::cuda::fill";
  if (n > 0) check_not_null(kName, {x});
  launch_map(FillOp<T>{x, value}, n, is_aligned_16(x), stream, kName);
}

#define GRAFT_INSTANTIATE(T)                                                                                           \
  template void binary_broadcast<T>(BinaryOp, int, const int64_t*, const T*, const int64_t*, const T*, const int64_t*, \
                                    T*, Stream);                                                                       \
  template void relu_forward<T>(const T*, int64_t, T*, Stream);                                                        \
  template void relu_backward<T>(const T*, const T*, int64_t, T*, Stream);                                             \
  template void masked_scale<T>(const T*, const uint8_t*, T, int64_t, T*, Stream);                                     \
  template void axpy<T>(int64_t, T, const T*, T*, Stream);                                                             \
  template void fill<T>(T*, int64_t, T, Stream);
GRAFT_INSTANTIATE(float)
GRAFT_INSTANTIATE(double)
#undef GRAFT_INSTANTIATE

}  // namespace graft::kernels::cuda
