#include "core/host_allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace graft::host {
namespace {

constexpr size_t kAlignment = 64;

// MemAvailable from /proc/meminfo (what can be allocated without swapping), 0 where unknown.
size_t available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  size_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") return kib << 10;
    meminfo.ignore(64, '\n');
  }
  return 0;
}

class HostMemory : public AllocatorBackend {
 public:
  void* raw_allocate(size_t bytes) override {
    return std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  }
  void raw_release(void* ptr) override { std::free(ptr); }
  MemoryInfo memory_info() override {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
    return {available_bytes(), pages > 0 && page_size > 0 ? size_t(pages) * size_t(page_size) : 0};
  }
};

// Made on first use and never destroyed: tensors held by static objects release their memory
// during exit, possibly after static destructors ran.
CachingAllocator& cache() {
  static CachingAllocator* const allocator = new CachingAllocator(std::make_unique<HostMemory>(), "the host");
  return *allocator;
}

}  // namespace

bool caching_enabled() {
  static const bool enabled = [] {
    const char* off = std::getenv("GRAFT_CPU_NO_CACHING");
    return off == nullptr || std::string_view(off) != "1";
  }();
  return enabled;
}

void* allocate(size_t bytes) {
  if (caching_enabled()) return cache().allocate(bytes);
  if (bytes == 0) return nullptr;
  void* ptr = HostMemory().raw_allocate(bytes);
  GRAFT_CHECK(ptr, "out of memory on the host: could not allocate ", bytes >> 20,
              " MiB (caching allocator off: GRAFT_CPU_NO_CACHING=1); reduce the batch size or the model");
  return ptr;
}

void release(void* ptr) {
  if (!ptr) return;
  if (caching_enabled()) {
    cache().release(ptr);
  } else {
    std::free(ptr);
  }
}

AllocatorStats memory_stats() { return caching_enabled() ? cache().stats() : AllocatorStats{}; }

void empty_cache() {
  if (caching_enabled()) cache().empty_cache();
}

}  // namespace graft::host
