#include "core/storage.h"

#include <cstdlib>
#include <new>

#include "core/cuda_runtime.h"
#include "core/error.h"
#include "core/host_allocator.h"

namespace graft {

std::shared_ptr<Storage> Storage::allocate(size_t bytes, Device device) {
  if (device.is_cuda()) {
    const int index = device.index;
    void* ptr = bytes ? cuda::allocate(bytes, index) : nullptr;
    return std::shared_ptr<Storage>(
        new Storage(ptr, bytes, device, [index](void* p) { if (p) cuda::release(p, index); }));
  }
  void* ptr = host::allocate(bytes);
  return std::shared_ptr<Storage>(new Storage(ptr, bytes, device, [](void* p) { host::release(p); }));
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t bytes, Device device,
                                       std::function<void(void*)> release) {
  return std::shared_ptr<Storage>(new Storage(data, bytes, device, std::move(release)));
}

Storage::~Storage() {
  if (release_) release_(data_);
}

}  // namespace graft
