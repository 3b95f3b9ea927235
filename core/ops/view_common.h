#pragma once
// Shared by the view ops: a tensor that aliases `base`'s storage with new geometry.
#include "core/tensor.h"

namespace graft::ops {

Tensor alias_with(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

}  // namespace graft::ops
