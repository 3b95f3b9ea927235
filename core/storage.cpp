#include "core/storage.h"

#include <cstdlib>
#include <new>

#include "core/cuda_runtime.h"
#include "core/error.h"

namespace graft {

std::shared_ptr<Storage> Storage::allocate(size_t bytes, Device device) {
  constexpr size_t kAlignment = 64;
  if (device.is_cuda()) {
    const int index = device.index;
    void* ptr = bytes ? cuda::allocate(bytes, index) : nullptr;
    return std::shared_ptr<Storage>(
        new Storage(ptr, bytes, device, [index](void* p) { if (p) cuda::release(p, index); }));
  }
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* ptr = rounded ? std::aligned_alloc(kAlignment, rounded) : nullptr;
  GRAFT_CHECK(ptr || !rounded, "out of host memory: could not allocate ", bytes >> 20,
              " MiB; reduce the batch size or the model");
  return std::shared_ptr<Storage>(new Storage(ptr, bytes, device, [](void* p) { std::free(p); }));
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t bytes, Device device,
                                       std::function<void(void*)> release) {
  return std::shared_ptr<Storage>(new Storage(data, bytes, device, std::move(release)));
}

Storage::~Storage() {
  if (release_) release_(data_);
}

}  // namespace graft
