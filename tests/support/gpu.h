#pragma once
// What tests of CUDA kernels need: a skip with the reason when there is no GPU, and device buffers
// filled from and read back into host vectors (through core's CUDA runtime layer).
#include <cstddef>
#include <vector>

#include "core/cuda_runtime.h"
#include "gtest/gtest.h"

// Skips the current test, saying why, unless this build has CUDA and a GPU is present.
#define GRAFT_REQUIRE_GPU()                                                                   \
  do {                                                                                        \
    if (!::graft::cuda::built_with_cuda()) GTEST_SKIP() << "skipped: built without CUDA";     \
    if (::graft::cuda::device_count() == 0) GTEST_SKIP() << "skipped: no CUDA GPU is present"; \
  } while (0)

namespace graft::testing {

// Device memory for `size` elements of T on device 0, released on destruction.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t size) : size_(size), data_(static_cast<T*>(allocate_bytes(size * sizeof(T)))) {}
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_) cuda::release(data_, 0);
  }

  T* get() const { return data_; }
  size_t size() const { return size_; }

  void upload(const std::vector<T>& host) {
    EXPECT_EQ(host.size(), size_);
    if (size_) cuda::copy(data_, host.data(), size_ * sizeof(T), cuda::CopyKind::host_to_device, 0);
  }
  // Copies back to the host; cudaMemcpy waits for the kernels before it on the default stream.
  std::vector<T> download() const {
    std::vector<T> host(size_);
    if (size_) cuda::copy(host.data(), data_, size_ * sizeof(T), cuda::CopyKind::device_to_host, 0);
    return host;
  }

 private:
  static void* allocate_bytes(size_t bytes) { return bytes ? cuda::allocate(bytes, 0) : nullptr; }
  size_t size_;
  T* data_;
};

}  // namespace graft::testing
