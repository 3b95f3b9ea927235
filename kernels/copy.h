#pragma once
// Data movement between strided and contiguous layouts, and element type conversion.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/half.h"
#include "kernels/stream.h"

namespace graft::kernels::cpu {

// dst (contiguous) = the strided view src[shape, strides], elements of elem_size bytes.
void gather_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides,
                    size_t elem_size, void* dst);
// The strided view dst[shape, strides] = src (contiguous).
void scatter_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides,
                     size_t elem_size, void* dst);

template <class To, class From>
inline To scalar_cast(From v) {
  if constexpr (std::is_same_v<From, BFloat16> || std::is_same_v<From, Half>) {
    return scalar_cast<To>(to_float(v));
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return to_bfloat16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, Half>) {
    return to_half(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

template <class From, class To>
void convert(const From* src, To* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = scalar_cast<To>(src[i]);
}

}  // namespace graft::kernels::cpu

// The CUDA twins of gather_strided and scatter_strided: device pointers, queued on `stream`.
// ndim is at most kMaxStridedDims and elem_size 1, 2, 4 or 8; they throw std::invalid_argument
// otherwise, or for negative sizes and null pointers. Size-1 dims and dims that step as one run are
// merged first, so a view that is contiguous in pieces copies in long runs.
namespace graft::kernels::cuda {
constexpr int kMaxStridedDims = 8;
void gather_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides, size_t elem_size,
                    void* dst, Stream stream);
void scatter_strided(const void* src, int ndim, const int64_t* shape, const int64_t* strides, size_t elem_size,
                     void* dst, Stream stream);
}  // namespace graft::kernels::cuda
