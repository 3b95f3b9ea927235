#pragma once
// Element types. f32 is the reference type; f64 serves gradient checks; i64 holds labels and
// indices; bf16 and f16 are storage types (converted with to(dtype), not computed in).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "kernels/half.h"

namespace graft {

enum class DType : uint8_t { f32, f64, i64, bf16, f16 };

using kernels::BFloat16;
using kernels::Half;

size_t dtype_size(DType dtype);
// torch's names: "float32", "float64", "int64", "bfloat16", "float16".
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<Half>() { return DType::f16; }

// Calls fn(T{}) with T the C++ type of `dtype`.
template <class Fn>
decltype(auto) visit_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    case DType::i64: return fn(int64_t{});
    case DType::bf16: return fn(BFloat16{});
    case DType::f16: return fn(Half{});
  }
  fail("unknown dtype code ", static_cast<int>(dtype));
}

// Calls fn(T{}) for the compute types float and double; any other dtype is an error naming `op`.
template <class Fn>
decltype(auto) visit_compute_dtype(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    default:
      fail(op, ": dtype ", dtype_name(dtype),
           " is not supported for computation; convert with .to(DType::f32) first");
  }
}

}  // namespace graft
