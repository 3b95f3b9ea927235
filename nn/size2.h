#pragma once
// A (height, width) pair for layer options. As in torch.nn, one number means both: kernel_size 3
// is 3x3, stride 2 is (2, 2).
#include <cstdint>

#include "core/ops/ops.h"

namespace graft::nn {

struct Size2 {
  int64_t height;
  int64_t width;

  Size2(int64_t both) : height(both), width(both) {}  // NOLINT: implicit on purpose
  Size2(int64_t height, int64_t width) : height(height), width(width) {}

  ops::Size2 pair() const { return {height, width}; }
  bool operator==(const Size2&) const = default;
};

}  // namespace graft::nn
