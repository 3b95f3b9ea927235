#pragma once
// A block of memory on one device, shared by every tensor that views it. CPU blocks are
// 64-byte aligned. A storage can also wrap memory it does not own (a memory-mapped file)
// with a custom release function, and a better way to copy its bytes out than reading the memory
// (a memory-mapped file reads them from the file, without faulting the mapping in).
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>

#include "core/device.h"

namespace graft {

class Storage {
 public:
  // Copies `n` bytes starting `offset` bytes into the storage to `destination`.
  using Reader = std::function<void(size_t offset, size_t n, void* destination)>;

  static std::shared_ptr<Storage> allocate(size_t bytes, Device device);
  static std::shared_ptr<Storage> wrap(void* data, size_t bytes, Device device,
                                       std::function<void(void*)> release);
  // As wrap, with `reader` serving read(). It must give the bytes data() holds at the time.
  static std::shared_ptr<Storage> wrap_with_reader(void* data, size_t bytes, Device device,
                                                   std::function<void(void*)> release, Reader reader) {
    std::shared_ptr<Storage> storage = wrap(data, bytes, device, std::move(release));
    storage->reader_ = std::move(reader);
    return storage;
  }

  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  // CPU storages: copies bytes [offset, offset + n) to `destination` (CPU memory outside those
  // bytes) through the storage's reader when it has one, else from data().
  void read(size_t offset, size_t n, void* destination) const {
    if (n == 0) return;
    if (reader_) {
      reader_(offset, n, destination);
    } else {
      std::memmove(destination, static_cast<const char*>(data_) + offset, n);
    }
  }

 private:
  Storage(void* data, size_t bytes, Device device, std::function<void(void*)> release)
      : data_(data), bytes_(bytes), device_(device), release_(std::move(release)) {}

  void* data_;
  size_t bytes_;
  Device device_;
  std::function<void(void*)> release_;
  Reader reader_;
};

}  // namespace graft
