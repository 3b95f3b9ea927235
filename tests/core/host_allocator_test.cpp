// CPU tensors' memory comes from the host caching allocator: a released block is handed out again
// (no fresh pages to fault in), every block is 64-byte aligned, and empty_cache() gives the free
// segments back. The allocator's own logic is tested over a fake device in caching_allocator_test.
#include "core/host_allocator.h"

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace graft {
namespace {

TEST(HostAllocator, ReleasedTensorMemoryIsReused) {
  if (!host::caching_enabled()) GTEST_SKIP() << "skipped: GRAFT_CPU_NO_CACHING=1 turns the cache off";
  const AllocatorStats before = host::memory_stats();
  const float* first = nullptr;
  {
    const Tensor activation = Tensor::empty({8, 64, 56, 56});  // 6.1 MiB, like a ResNet activation
    first = activation.data<float>();
  }
  const Tensor again = Tensor::empty({8, 64, 56, 56});
  EXPECT_EQ(again.data<float>(), first) << "the same size should get the block just released";
  const AllocatorStats after = host::memory_stats();
  EXPECT_GT(after.cache_hits, before.cache_hits);
  EXPECT_GE(after.reserved_bytes, after.allocated_bytes);
}

TEST(HostAllocator, BlocksAreAlignedForVectorLoads) {
  std::vector<Tensor> tensors;
  for (const int64_t n : {1, 3, 17, 100, 4097, 262145, 1 << 20}) {
    tensors.push_back(Tensor::empty({n}));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(tensors.back().data<float>()) % 64, 0u) << n << " floats";
  }
}

TEST(HostAllocator, EmptyCacheReturnsFreeSegments) {
  if (!host::caching_enabled()) GTEST_SKIP() << "skipped: GRAFT_CPU_NO_CACHING=1 turns the cache off";
  { const Tensor big = Tensor::empty({16 << 20}); }  // 64 MiB, released into the cache
  const size_t cached = host::memory_stats().reserved_bytes;
  host::empty_cache();
  EXPECT_LE(host::memory_stats().reserved_bytes + (64u << 20), cached);
  EXPECT_EQ(host::memory_stats().reserved_bytes, host::memory_stats().allocated_bytes);
}

}  // namespace
}  // namespace graft
