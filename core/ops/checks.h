#pragma once
// Argument checks shared by the ops. Each raises graft::Error naming the op and the argument.
#include <initializer_list>

#include "core/tensor.h"

namespace graft::ops {

// `t` is defined and holds float32 or float64.
void check_float(const Tensor& t, const char* op, const char* arg);
// `t` has exactly `ndim` dimensions; `what` describes the expected layout, e.g. "[N, C, H, W]".
void check_dim(const Tensor& t, int64_t ndim, const char* op, const char* arg, const char* what);
// Every defined tensor in `others` has t's dtype and device.
void check_same_kind(const Tensor& t, const char* arg, std::initializer_list<std::pair<const Tensor*, const char*>> others,
                     const char* op);
// NumPy broadcasting of two shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace graft::ops
