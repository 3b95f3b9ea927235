#pragma once
// A block of memory on one device, shared by every tensor that views it. CPU blocks are
// 64-byte aligned. A storage can also wrap memory it does not own (a memory-mapped file)
// with a custom release function.
#include <cstddef>
#include <functional>
#include <memory>

#include "core/device.h"

namespace graft {

class Storage {
 public:
  static std::shared_ptr<Storage> allocate(size_t bytes, Device device);
  static std::shared_ptr<Storage> wrap(void* data, size_t bytes, Device device,
                                       std::function<void(void*)> release);

  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  Storage(void* data, size_t bytes, Device device, std::function<void(void*)> release)
      : data_(data), bytes_(bytes), device_(device), release_(std::move(release)) {}

  void* data_;
  size_t bytes_;
  Device device_;
  std::function<void(void*)> release_;
};

}  // namespace graft
