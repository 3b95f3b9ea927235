#pragma once
// Helpers shared by the tests of the light CUDA kernels.
#include <cstdint>
#include <vector>

#include "tests/kernels/light_kernel_testing.h"
#include "tests/support/gpu.h"

namespace graft::kernels::testing {

// A device copy of `host` that starts `offset` elements into its buffer: an offset of 1 gives a
// pointer that is not 16-byte aligned, which sends the kernels down their one-element-at-a-time
// paths.
template <typename T>
class OffsetBuffer {
 public:
  OffsetBuffer(const std::vector<T>& host, int64_t offset) : offset_(offset), buffer_(padded(host, offset)) {}
  T* get() const { return buffer_.get() + offset_; }
  std::vector<T> download() const {
    const std::vector<T> all = buffer_.download();
    return std::vector<T>(all.begin() + offset_, all.end());
  }

 private:
  static std::vector<T> padded(const std::vector<T>& host, int64_t offset) {
    std::vector<T> v(offset, T(0));
    v.insert(v.end(), host.begin(), host.end());
    return v;
  }
  int64_t offset_;
  graft::testing::DeviceBuffer<T> buffer_;
};

}  // namespace graft::kernels::testing
