#include "core/cuda_runtime.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"

#ifdef GRAFT_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace graft::cuda {

bool caching_enabled() {
  static const bool enabled = [] {
    const char* off = std::getenv("GRAFT_CUDA_NO_CACHING");
    return off == nullptr || std::string_view(off) != "1";
  }();
  return enabled;
}

#ifdef GRAFT_WITH_CUDA

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA ", what, " failed: ", cudaGetErrorString(status));
}

void check_index(int index, int count) {
  GRAFT_CHECK(index >= 0 && index < count, "CUDA device ", index, " requested but ", count,
              " device(s) are available; use --device cpu or a smaller index");
}

cudaMemcpyKind to_cuda(CopyKind kind) {
  switch (kind) {
    case CopyKind::host_to_device: return cudaMemcpyHostToDevice;
    case CopyKind::device_to_host: return cudaMemcpyDeviceToHost;
    case CopyKind::device_to_device: return cudaMemcpyDeviceToDevice;
  }
  fail("unknown CopyKind ", static_cast<int>(kind));
}

// The caching allocator's view of one device: cudaMalloc, cudaFree, cudaMemGetInfo.
class DeviceMemory : public AllocatorBackend {
 public:
  explicit DeviceMemory(int device) : device_(device) {}

  void* raw_allocate(size_t bytes) override {
    check(cudaSetDevice(device_), "cudaSetDevice");
    void* ptr = nullptr;
    const cudaError_t status = cudaMalloc(&ptr, bytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it, or the next kernel launch check would report it
      return nullptr;
    }
    check(status, "cudaMalloc");
    return ptr;
  }

  // Errors are not raised here: this runs when tensors are destroyed, and a failure of cudaFree
  // means an earlier asynchronous error, which the next synchronizing call reports.
  void raw_release(void* ptr) override {
    cudaSetDevice(device_);
    cudaFree(ptr);
  }

  MemoryInfo memory_info() override {
    MemoryInfo info;
    if (cudaSetDevice(device_) != cudaSuccess ||
        cudaMemGetInfo(&info.free_bytes, &info.total_bytes) != cudaSuccess) {
      return {};
    }
    return info;
  }

 private:
  int device_;
};

// One allocator per device, all made on first use (no memory is taken until a request comes) and
// never destroyed: tensors held by static objects release their memory during exit, possibly after
// static destructors ran. The driver reclaims what is left when the process ends.
CachingAllocator& device_allocator(int device) {
  static const std::vector<CachingAllocator*> allocators = [] {
    std::vector<CachingAllocator*> made;
    for (int index = 0; index < device_count(); ++index) {
      made.push_back(new CachingAllocator(std::make_unique<DeviceMemory>(index), "CUDA device " + std::to_string(index)));
    }
    return made;
  }();
  check_index(device, static_cast<int>(allocators.size()));
  return *allocators[device];
}

}  // namespace

bool built_with_cuda() { return true; }

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

void check_device(int index) { check_index(index, device_count()); }

void set_device(int index) { check(cudaSetDevice(index), "cudaSetDevice"); }

void* allocate(size_t bytes, int device, Stream stream) {
  if (caching_enabled()) return device_allocator(device).allocate(bytes, stream);
  if (bytes == 0) return nullptr;
  check_device(device);
  DeviceMemory memory(device);
  void* ptr = memory.raw_allocate(bytes);
  if (!ptr) {
    const AllocatorBackend::MemoryInfo info = memory.memory_info();
    fail("out of memory on CUDA device ", device, ": tried to allocate ", bytes >> 20, " MiB; ", info.free_bytes >> 20,
         " MiB free of ", info.total_bytes >> 20, " MiB on the device (caching allocator off: GRAFT_CUDA_NO_CACHING=1)",
         "; reduce the batch size (e.g. --batch-size N/2) or free tensors");
  }
  return ptr;
}

void release(void* ptr, int device) {
  if (!ptr) return;
  if (caching_enabled()) {
    device_allocator(device).release(ptr);
  } else {
    DeviceMemory(device).raw_release(ptr);
  }
}

AllocatorStats memory_stats(int device) { return device_allocator(device).stats(); }

void empty_cache(int device) { device_allocator(device).empty_cache(); }

void reset_peak_memory_stats(int device) { device_allocator(device).reset_peak(); }

namespace {

// Page-locked blocks are slow to make (every page is pinned) and cudaFreeHost waits for the whole
// device, so released blocks are kept for reuse, by size in whole pages (a loader's batches all have
// one size), up to kMaxCachedBytes, as torch's host allocator does.
class PinnedCache {
 public:
  void* allocate(size_t bytes) {
    const size_t size = std::max<size_t>((bytes + kPage - 1) / kPage * kPage, kPage);
    std::unique_lock lock(mutex_);
    if (const auto it = free_.find(size); it != free_.end()) {
      void* ptr = it->second;
      free_.erase(it);
      cached_bytes_ -= size;
      live_[ptr] = size;
      return ptr;
    }
    lock.unlock();
    void* ptr = pin(size);
    if (!ptr) {
      empty();  // the cache's blocks may be what the system lacks
      ptr = pin(size);
    }
    if (!ptr) {
      fail("cannot allocate ", bytes >> 20, " MiB of pinned host memory; reduce the batch size or turn pin_memory off");
    }
    lock.lock();
    live_[ptr] = size;
    return ptr;
  }

  void release(void* ptr) {
    std::unique_lock lock(mutex_);
    const auto it = live_.find(ptr);
    if (it != live_.end()) {
      const size_t size = it->second;
      live_.erase(it);
      if (cached_bytes_ + size <= kMaxCachedBytes) {
        free_.emplace(size, ptr);
        cached_bytes_ += size;
        return;
      }
    }
    lock.unlock();
    cudaFreeHost(ptr);  // no error can be raised from a release (it runs in destructors)
  }

 private:
  static constexpr size_t kPage = 4096;
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;

  // nullptr when the system cannot pin that much.
  static void* pin(size_t bytes) {
    void* ptr = nullptr;
    const cudaError_t status = cudaHostAlloc(&ptr, bytes, cudaHostAllocDefault);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      return nullptr;
    }
    check(status, "cudaHostAlloc");
    return ptr;
  }

  void empty() {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard lock(mutex_);
      blocks.swap(free_);
      cached_bytes_ = 0;
    }
    for (const auto& [size, ptr] : blocks) cudaFreeHost(ptr);
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;    // released blocks by size
  std::unordered_map<void*, size_t> live_;  // handed-out blocks and their sizes
  size_t cached_bytes_ = 0;
};

// Never destroyed: its blocks live until the process ends (freeing them during static destruction
// could run after the CUDA runtime has shut down).
PinnedCache& pinned_cache() {
  static PinnedCache* cache = new PinnedCache;
  return *cache;
}

}  // namespace

void* allocate_pinned(size_t bytes) {
  GRAFT_CHECK(device_count() > 0, "pinned host memory needs a CUDA GPU, and none is available; turn pin_memory off");
  return pinned_cache().allocate(bytes);
}

void release_pinned(void* ptr) {
  if (ptr) pinned_cache().release(ptr);
}

Stream create_stream(int device) {
  check_device(device);
  check(cudaSetDevice(device), "cudaSetDevice");
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamDefault), "cudaStreamCreate");
  return stream;
}

void destroy_stream(Stream stream) {
  if (!stream) return;
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  check(cudaStreamDestroy(stream), "cudaStreamDestroy");
}

void synchronize(int device) {
  check_device(device);
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

void synchronize(Stream stream) { check(cudaStreamSynchronize(stream), "cudaStreamSynchronize"); }

void copy(void* dst, const void* src, size_t bytes, CopyKind kind, int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaMemcpy(dst, src, bytes, to_cuda(kind)), "cudaMemcpy");
}

void copy_async(void* dst, const void* src, size_t bytes, CopyKind kind, int device, Stream stream) {
  if (bytes == 0) return;
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaMemcpyAsync(dst, src, bytes, to_cuda(kind), stream), "cudaMemcpyAsync");
}

#else

namespace {

[[noreturn]] void no_cuda() {
  fail("this build of graft has no CUDA support; rebuild with -DGRAFT_CUDA=ON on a machine with the "
       "CUDA toolkit, or use the cpu device");
}

}  // namespace

bool built_with_cuda() { return false; }
int device_count() { return 0; }
void check_device(int) { no_cuda(); }
void set_device(int) { no_cuda(); }
void* allocate(size_t, int, Stream) { no_cuda(); }
void release(void*, int) {}
AllocatorStats memory_stats(int) { no_cuda(); }
void empty_cache(int) { no_cuda(); }
void reset_peak_memory_stats(int) { no_cuda(); }
void* allocate_pinned(size_t) { no_cuda(); }
void release_pinned(void*) {}
Stream create_stream(int) { no_cuda(); }
void destroy_stream(Stream) {}
void synchronize(int) { no_cuda(); }
void synchronize(Stream) { no_cuda(); }
void copy(void*, const void*, size_t, CopyKind, int) { no_cuda(); }
void copy_async(void*, const void*, size_t, CopyKind, int, Stream) { no_cuda(); }

#endif

}  // namespace graft::cuda
