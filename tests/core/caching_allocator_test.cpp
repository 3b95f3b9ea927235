// The caching allocator's logic runs on the CPU over a fake device with a fixed capacity; the last
// tests go through core/cuda_runtime on a real GPU and skip without one.
#include "core/caching_allocator.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "core/cuda_runtime.h"
#include "core/error.h"
#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "tests/support/gpu.h"

namespace graft {
namespace {

constexpr size_t KiB = size_t{1} << 10;
constexpr size_t MiB = size_t{1} << 20;

// A device of `capacity` bytes backed by host memory (so tests can write into blocks), which refuses
// requests beyond its capacity the way cudaMalloc does, and counts what it hands out.
class FakeDevice : public AllocatorBackend {
 public:
  explicit FakeDevice(size_t capacity) : capacity_(capacity) {}
  ~FakeDevice() override {
    for (const auto& [ptr, bytes] : live_) std::free(ptr);
  }

  void* raw_allocate(size_t bytes) override {
    if (bytes > capacity_ - used_) return nullptr;
    void* ptr = std::malloc(bytes);
    used_ += bytes;
    live_[ptr] = bytes;
    ++raw_allocations_;
    return ptr;
  }
  void raw_release(void* ptr) override {
    const auto found = live_.find(ptr);
    ASSERT_NE(found, live_.end()) << "raw_release of a pointer the device did not hand out";
    used_ -= found->second;
    live_.erase(found);
    std::free(ptr);
    ++raw_releases_;
  }
  MemoryInfo memory_info() override { return {capacity_ - used_, capacity_}; }

  size_t used() const { return used_; }
  size_t live_segments() const { return live_.size(); }
  size_t raw_allocations() const { return raw_allocations_; }
  size_t raw_releases() const { return raw_releases_; }

 private:
  size_t capacity_;
  size_t used_ = 0;
  std::map<void*, size_t> live_;
  size_t raw_allocations_ = 0;
  size_t raw_releases_ = 0;
};

// A caching allocator for "device 3" over a fake device; `device` stays readable, owned by `allocator`.
struct FakeSetup {
  explicit FakeSetup(size_t capacity)
      : device(new FakeDevice(capacity)), allocator(std::unique_ptr<AllocatorBackend>(device), "fake device 3") {}
  FakeDevice* device;
  CachingAllocator allocator;
};

char* at(void* ptr, size_t offset) { return static_cast<char*>(ptr) + offset; }

// Distinct opaque stream keys.
int stream_a_tag, stream_b_tag;
const void* const stream_a = &stream_a_tag;
const void* const stream_b = &stream_b_tag;

TEST(CachingAllocator, RoundsRequestsTo512BytesAndSegmentsTo2MiB) {
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(3 * MiB + 1), 3 * MiB + 512);
  EXPECT_EQ(CachingAllocator::segment_size(512), 2 * MiB);
  EXPECT_EQ(CachingAllocator::segment_size(1 * MiB), 2 * MiB);
  EXPECT_EQ(CachingAllocator::segment_size(1 * MiB + 512), 2 * MiB);
  EXPECT_EQ(CachingAllocator::segment_size(2 * MiB + 512), 4 * MiB);
  EXPECT_EQ(CachingAllocator::segment_size(5 * MiB), 6 * MiB);

  FakeSetup setup(64 * MiB);
  void* a = setup.allocator.allocate(1);
  void* b = setup.allocator.allocate(1000);
  EXPECT_EQ(b, at(a, 512)) << "the second block starts where the rounded first one ends";
  EXPECT_EQ(setup.allocator.stats().allocated_bytes, 512u + 1024u);
  EXPECT_EQ(setup.allocator.allocate(0), nullptr);
  setup.allocator.release(nullptr);
  EXPECT_EQ(setup.allocator.stats().allocated_blocks, 2u);
  setup.allocator.release(a);
  setup.allocator.release(b);
}

TEST(CachingAllocator, ReusesAFreedBlockWithoutANewRawAllocation) {
  FakeSetup setup(64 * MiB);
  void* first = setup.allocator.allocate(4000);
  setup.allocator.release(first);
  void* again = setup.allocator.allocate(4000);
  EXPECT_EQ(again, first);
  AllocatorStats stats = setup.allocator.stats();
  EXPECT_EQ(stats.raw_allocations, 1u);
  EXPECT_EQ(stats.cache_hits, 1u);
  EXPECT_EQ(setup.device->raw_allocations(), 1u);
  setup.allocator.release(again);

  void* large = setup.allocator.allocate(5 * MiB);
  setup.allocator.release(large);
  void* smaller_large = setup.allocator.allocate(4 * MiB + 1);
  EXPECT_EQ(smaller_large, large) << "best fit reuses the cached 6 MiB segment";
  EXPECT_EQ(setup.allocator.stats().raw_allocations, 2u);
  setup.allocator.release(smaller_large);
}

TEST(CachingAllocator, SplitsASegmentAndCoalescesFreedNeighbours) {
  FakeSetup setup(64 * MiB);
  // A 12 MiB segment, cached, then cut into three 4 MiB blocks.
  setup.allocator.release(setup.allocator.allocate(12 * MiB));
  void* a = setup.allocator.allocate(4 * MiB);
  void* b = setup.allocator.allocate(4 * MiB);
  void* c = setup.allocator.allocate(4 * MiB);
  EXPECT_EQ(b, at(a, 4 * MiB));
  EXPECT_EQ(c, at(a, 8 * MiB));
  EXPECT_EQ(setup.allocator.stats().raw_allocations, 1u);

  setup.allocator.release(b);  // middle first: no free neighbour yet
  setup.allocator.release(a);
  setup.allocator.release(c);
  void* whole = setup.allocator.allocate(12 * MiB);
  EXPECT_EQ(whole, a) << "the three freed blocks merged back into one 12 MiB block";
  const AllocatorStats stats = setup.allocator.stats();
  EXPECT_EQ(stats.raw_allocations, 1u);
  EXPECT_EQ(stats.allocated_bytes, 12 * MiB);
  setup.allocator.release(whole);
}

TEST(CachingAllocator, SmallBlocksShareA2MiBSegmentAndCoalesce) {
  FakeSetup setup(64 * MiB);
  void* a = setup.allocator.allocate(512 * KiB);
  void* b = setup.allocator.allocate(512 * KiB);
  void* c = setup.allocator.allocate(512 * KiB);
  EXPECT_EQ(b, at(a, 512 * KiB));
  EXPECT_EQ(c, at(a, 1024 * KiB));
  EXPECT_EQ(setup.allocator.stats().reserved_bytes, 2 * MiB);
  setup.allocator.release(b);
  setup.allocator.release(a);
  setup.allocator.release(c);
  // Only a merged segment holds two 1 MiB blocks; 512 KiB pieces would need a new segment.
  void* d = setup.allocator.allocate(1 * MiB);
  void* e = setup.allocator.allocate(1 * MiB);
  EXPECT_EQ(d, a);
  EXPECT_EQ(e, at(a, 1 * MiB));
  EXPECT_EQ(setup.allocator.stats().raw_allocations, 1u);
  setup.allocator.release(d);
  setup.allocator.release(e);
}

TEST(CachingAllocator, SmallAndLargeRequestsUseSeparatePools) {
  FakeSetup setup(64 * MiB);
  void* large = setup.allocator.allocate(3 * MiB);
  // A rest of 1 MiB or less is not split off a large block: the whole 4 MiB segment is handed out.
  EXPECT_EQ(setup.allocator.stats().allocated_bytes, 4 * MiB);
  setup.allocator.release(large);
  void* small = setup.allocator.allocate(1 * KiB);
  EXPECT_EQ(setup.allocator.stats().raw_allocations, 2u) << "a small request does not cut the cached large segment";
  setup.allocator.release(small);
  void* large_again = setup.allocator.allocate(1 * MiB + 1);
  EXPECT_EQ(large_again, large) << "the cached 2 MiB small segment does not serve a large request";
  EXPECT_EQ(setup.allocator.stats().raw_allocations, 2u);
  setup.allocator.release(large_again);
}

TEST(CachingAllocator, BlocksAreReusedOnlyOnTheirStream) {
  // Both ways round, so that the order of the two keys in memory does not matter.
  for (const auto& [first, second] : {std::pair{stream_a, stream_b}, std::pair{stream_b, stream_a}}) {
    FakeSetup setup(64 * MiB);
    void* on_first = setup.allocator.allocate(4 * KiB, first);
    setup.allocator.release(on_first);
    void* on_second = setup.allocator.allocate(4 * KiB, second);
    EXPECT_NE(on_second, on_first);
    EXPECT_EQ(setup.allocator.stats().raw_allocations, 2u);
    void* on_first_again = setup.allocator.allocate(4 * KiB, first);
    EXPECT_EQ(on_first_again, on_first);
    EXPECT_EQ(setup.allocator.stats().cache_hits, 1u);
    setup.allocator.release(on_second);
    setup.allocator.release(on_first_again);
  }
}

TEST(CachingAllocator, StatsCountAllocatedReservedAndPeaks) {
  FakeSetup setup(64 * MiB);
  void* small = setup.allocator.allocate(1000);
  void* large = setup.allocator.allocate(4 * MiB);
  AllocatorStats stats = setup.allocator.stats();
  EXPECT_EQ(stats.allocated_bytes, 1024 + 4 * MiB);
  EXPECT_EQ(stats.allocated_blocks, 2u);
  EXPECT_EQ(stats.reserved_bytes, 6 * MiB);
  EXPECT_EQ(stats.raw_allocations, 2u);
  EXPECT_EQ(stats.cache_hits, 0u);

  setup.allocator.release(large);
  stats = setup.allocator.stats();
  EXPECT_EQ(stats.allocated_bytes, 1024u);
  EXPECT_EQ(stats.allocated_blocks, 1u);
  EXPECT_EQ(stats.peak_allocated_bytes, 1024 + 4 * MiB);
  EXPECT_EQ(stats.reserved_bytes, 6 * MiB) << "the freed block stays cached";
  EXPECT_EQ(stats.peak_reserved_bytes, 6 * MiB);

  setup.allocator.reset_peak();
  setup.allocator.empty_cache();
  stats = setup.allocator.stats();
  EXPECT_EQ(stats.peak_allocated_bytes, 1024u);
  EXPECT_EQ(stats.peak_reserved_bytes, 6 * MiB) << "reset before empty_cache: the 6 MiB were still held";
  EXPECT_EQ(stats.reserved_bytes, 2 * MiB);
  setup.allocator.reset_peak();
  EXPECT_EQ(setup.allocator.stats().peak_reserved_bytes, 2 * MiB);
  setup.allocator.release(small);
}

TEST(CachingAllocator, EmptyCacheReturnsOnlyFullyFreeSegments) {
  FakeSetup setup(64 * MiB);
  void* first_small = setup.allocator.allocate(1 * KiB);
  void* small = setup.allocator.allocate(1 * KiB);
  void* large = setup.allocator.allocate(3 * MiB);
  void* larger = setup.allocator.allocate(7 * MiB);
  setup.allocator.release(first_small);  // the segment's first block is free, its second is not
  setup.allocator.release(large);
  setup.allocator.release(larger);
  EXPECT_EQ(setup.device->live_segments(), 3u);
  setup.allocator.empty_cache();
  EXPECT_EQ(setup.device->live_segments(), 1u) << "the segment holding `small` stays";
  EXPECT_EQ(setup.allocator.stats().reserved_bytes, 2 * MiB);

  setup.allocator.release(small);
  EXPECT_EQ(setup.device->live_segments(), 1u) << "released blocks are cached, not returned";
  setup.allocator.empty_cache();
  EXPECT_EQ(setup.device->live_segments(), 0u);
  EXPECT_EQ(setup.device->used(), 0u);
  EXPECT_EQ(setup.allocator.stats().reserved_bytes, 0u);
  EXPECT_EQ(setup.device->raw_releases(), setup.device->raw_allocations());
}

TEST(CachingAllocator, OutOfMemoryEmptiesTheCacheAndRetries) {
  FakeSetup setup(5 * MiB);
  setup.allocator.release(setup.allocator.allocate(3 * MiB));  // 4 MiB cached in the large pool
  void* small = setup.allocator.allocate(1 * KiB);             // needs a 2 MiB small segment: 6 > 5 MiB
  ASSERT_NE(small, nullptr);
  const AllocatorStats stats = setup.allocator.stats();
  EXPECT_EQ(stats.oom_retries, 1u);
  EXPECT_EQ(stats.reserved_bytes, 2 * MiB);
  EXPECT_EQ(setup.device->raw_releases(), 1u);
  EXPECT_EQ(setup.device->live_segments(), 1u);
  setup.allocator.release(small);
}

TEST(CachingAllocator, OutOfMemoryErrorNamesTheRequestTheMemoryInUseAndTheFix) {
  FakeSetup setup(6 * MiB);
  void* held = setup.allocator.allocate(1 * MiB);                        // 1 MiB used, 1 MiB cached beside it
  setup.allocator.release(setup.allocator.allocate(1 * KiB, stream_b));  // a whole cached segment
  EXPECT_EQ(setup.device->used(), 4 * MiB);
  try {
    setup.allocator.allocate(5 * MiB);  // needs a 6 MiB segment
    FAIL() << "expected graft::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "out of memory on fake device 3: tried to allocate 5.00 MiB; 1.00 MiB allocated by graft (1.00 MiB "
              "more cached), 4.00 MiB free of 6.00 MiB there; reduce the batch size (e.g. --batch-size "
              "N/2) or free tensors");
  }
  EXPECT_EQ(setup.allocator.stats().oom_retries, 1u);
  EXPECT_EQ(setup.device->raw_releases(), 1u) << "the free segment was returned before the retry";

  // Still usable afterwards; an absurd request is the same clear error, not an overflow.
  void* next = setup.allocator.allocate(1 * MiB);
  EXPECT_EQ(next, at(held, 1 * MiB));
  testing::expect_error([&] { setup.allocator.allocate(~size_t{0}); }, "out of memory on fake device 3",
                        "reduce the batch size");
  setup.allocator.release(next);
  setup.allocator.release(held);
}

TEST(CachingAllocator, ReleasingAPointerItDidNotHandOutIsAClearError) {
  FakeSetup setup(64 * MiB);
  int outsider = 0;
  testing::expect_error([&] { setup.allocator.release(&outsider); }, "CachingAllocator", "did not hand out");
  void* block = setup.allocator.allocate(100);
  setup.allocator.release(block);
  testing::expect_error([&] { setup.allocator.release(block); }, "CachingAllocator", "already taken back");
}

TEST(CachingAllocator, RandomUseNeverHandsOutOverlappingBlocks) {
  FakeSetup setup(256 * MiB);
  std::mt19937 rng(5);
  std::map<char*, size_t> live;  // start -> requested bytes
  auto overlaps_live = [&](char* start, size_t bytes) {
    auto after = live.lower_bound(start);
    if (after != live.end() && after->first < start + bytes) return true;
    if (after == live.begin()) return false;
    const auto before = std::prev(after);
    return before->first + before->second > start;
  };
  for (int step = 0; step < 4000; ++step) {
    if (live.empty() || (live.size() < 40 && rng() % 2)) {
      const size_t bytes = rng() % 4 == 0 ? 1 * MiB + rng() % (5 * MiB) : 1 + rng() % (300 * KiB);
      char* block = static_cast<char*>(setup.allocator.allocate(bytes, rng() % 2 ? stream_a : stream_b));
      ASSERT_FALSE(overlaps_live(block, bytes)) << "step " << step;
      live[block] = bytes;
    } else {
      auto victim = std::next(live.begin(), rng() % live.size());
      setup.allocator.release(victim->first);
      live.erase(victim);
    }
  }
  for (const auto& [block, bytes] : live) setup.allocator.release(block);
  EXPECT_EQ(setup.allocator.stats().allocated_bytes, 0u);
  setup.allocator.empty_cache();
  EXPECT_EQ(setup.device->live_segments(), 0u) << "every segment coalesced back into one free block";
}

TEST(CachingAllocator, ConcurrentUseKeepsStatsConsistentAndLeaksNothing) {
  FakeSetup setup(1024 * MiB);
  constexpr int kThreads = 4;
  constexpr int kSteps = 3000;
  std::atomic<size_t> allocations{0};
  std::atomic<int> corrupted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      struct Held {
        char* ptr;
        size_t bytes;
        char tag;
      };
      std::vector<Held> held;
      auto release_one = [&](size_t index) {
        const Held h = held[index];
        if (h.ptr[0] != h.tag || h.ptr[h.bytes - 1] != h.tag) ++corrupted;
        setup.allocator.release(h.ptr);
        held[index] = held.back();
        held.pop_back();
      };
      for (int step = 0; step < kSteps; ++step) {
        if (held.size() < 24 && rng() % 2) {
          const size_t bytes = rng() % 8 == 0 ? 1 * MiB + rng() % (6 * MiB) : 1 + rng() % (64 * KiB);
          char* ptr = static_cast<char*>(setup.allocator.allocate(bytes, rng() % 2 ? stream_a : stream_b));
          const char tag = static_cast<char>(t * 31 + step);
          ptr[0] = tag;
          ptr[bytes - 1] = tag;
          held.push_back({ptr, bytes, tag});
          ++allocations;
        } else if (!held.empty()) {
          release_one(rng() % held.size());
        }
      }
      while (!held.empty()) release_one(held.size() - 1);
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(corrupted.load(), 0) << "a block was written by two owners";
  AllocatorStats stats = setup.allocator.stats();
  EXPECT_EQ(stats.allocated_bytes, 0u);
  EXPECT_EQ(stats.allocated_blocks, 0u);
  EXPECT_EQ(stats.cache_hits + stats.raw_allocations, allocations.load());
  EXPECT_EQ(stats.raw_allocations, setup.device->raw_allocations());
  EXPECT_EQ(stats.reserved_bytes, setup.device->used());
  setup.allocator.empty_cache();
  EXPECT_EQ(setup.allocator.stats().reserved_bytes, 0u);
  EXPECT_EQ(setup.device->live_segments(), 0u);
  EXPECT_EQ(setup.device->raw_releases(), setup.device->raw_allocations());
}

TEST(CachingAllocator, CudaCallsWithoutCudaAreClearErrors) {
  if (cuda::built_with_cuda()) GTEST_SKIP() << "skipped: this build has CUDA";
  testing::expect_error([] { cuda::memory_stats(0); }, "no CUDA support", "-DGRAFT_CUDA=ON");
  testing::expect_error([] { cuda::empty_cache(0); }, "no CUDA support", "-DGRAFT_CUDA=ON");
  testing::expect_error([] { cuda::reset_peak_memory_stats(0); }, "no CUDA support", "-DGRAFT_CUDA=ON");
  testing::expect_error([] { cuda::create_stream(0); }, "no CUDA support", "-DGRAFT_CUDA=ON");
  testing::expect_error([] { cuda::synchronize(0); }, "no CUDA support", "-DGRAFT_CUDA=ON");
  char byte = 0;
  testing::expect_error([&] { cuda::copy_async(&byte, &byte, 1, cuda::CopyKind::host_to_device, 0, nullptr); },
                        "no CUDA support", "-DGRAFT_CUDA=ON");
}

TEST(CudaAllocator, DeviceMemoryGoesThroughTheCache) {
  GRAFT_REQUIRE_GPU();
  if (!cuda::caching_enabled()) GTEST_SKIP() << "skipped: GRAFT_CUDA_NO_CACHING=1 turns the cache off";
  cuda::empty_cache(0);
  const AllocatorStats before = cuda::memory_stats(0);
  void* first = cuda::allocate(3 * MiB, 0);
  const AllocatorStats during = cuda::memory_stats(0);
  EXPECT_GE(during.allocated_bytes, before.allocated_bytes + 3 * MiB);
  EXPECT_EQ(during.allocated_blocks, before.allocated_blocks + 1);
  EXPECT_GE(during.peak_allocated_bytes, during.allocated_bytes);

  std::vector<float> values(3 * MiB / sizeof(float));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 1000);
  cuda::copy(first, values.data(), 3 * MiB, cuda::CopyKind::host_to_device, 0);
  cuda::release(first, 0);
  EXPECT_EQ(cuda::memory_stats(0).allocated_bytes, before.allocated_bytes);

  void* again = cuda::allocate(3 * MiB, 0);
  EXPECT_EQ(again, first) << "the released block is reused";
  EXPECT_EQ(cuda::memory_stats(0).cache_hits, before.cache_hits + 1);
  std::vector<float> back(values.size());
  cuda::copy(back.data(), again, 3 * MiB, cuda::CopyKind::device_to_host, 0);
  EXPECT_EQ(back, values);
  cuda::release(again, 0);

  cuda::empty_cache(0);
  EXPECT_EQ(cuda::memory_stats(0).reserved_bytes, before.reserved_bytes);
  cuda::reset_peak_memory_stats(0);
  EXPECT_EQ(cuda::memory_stats(0).peak_allocated_bytes, before.allocated_bytes);
}

TEST(CudaAllocator, OutOfMemoryIsAClearErrorAndTheDeviceStaysUsable) {
  GRAFT_REQUIRE_GPU();
  if (!cuda::caching_enabled()) GTEST_SKIP() << "skipped: GRAFT_CUDA_NO_CACHING=1 turns the cache off";
  const size_t retries = cuda::memory_stats(0).oom_retries;
  testing::expect_error([] { cuda::allocate(size_t{1} << 50, 0); }, "out of memory on CUDA device 0",
                        "MiB free of");
  EXPECT_EQ(cuda::memory_stats(0).oom_retries, retries + 1);
  // The failed cudaMalloc left no error behind for the next call to trip over.
  std::vector<int> values = {1, 2, 3};
  void* block = cuda::allocate(sizeof(int) * values.size(), 0);
  cuda::copy(block, values.data(), sizeof(int) * values.size(), cuda::CopyKind::host_to_device, 0);
  std::vector<int> back(values.size());
  cuda::copy(back.data(), block, sizeof(int) * values.size(), cuda::CopyKind::device_to_host, 0);
  EXPECT_EQ(back, values);
  cuda::synchronize(0);
  cuda::release(block, 0);
}

TEST(CudaRuntime, ReleasedPinnedBlocksAreReusedBySize) {
  GRAFT_REQUIRE_GPU();
  void* first = cuda::allocate_pinned(1000);
  std::memset(first, 1, 1000);
  cuda::release_pinned(first);
  void* same_pages = cuda::allocate_pinned(900);  // both round to one 4 KiB page
  EXPECT_EQ(same_pages, first);
  void* other = cuda::allocate_pinned(5000);
  EXPECT_NE(other, first);
  std::memset(other, 2, 5000);
  cuda::release_pinned(same_pages);
  cuda::release_pinned(other);
}

TEST(CudaRuntime, StreamsAndAsynchronousCopies) {
  GRAFT_REQUIRE_GPU();
  cuda::Stream stream = cuda::create_stream(0);
  ASSERT_NE(stream, nullptr);
  constexpr size_t kCount = 1 << 20;
  float* pinned_in = static_cast<float*>(cuda::allocate_pinned(kCount * sizeof(float)));
  float* pinned_out = static_cast<float*>(cuda::allocate_pinned(kCount * sizeof(float)));
  for (size_t i = 0; i < kCount; ++i) pinned_in[i] = static_cast<float>(i) * 0.5f;
  std::memset(pinned_out, 0, kCount * sizeof(float));

  void* a = cuda::allocate(kCount * sizeof(float), 0, stream);
  void* b = cuda::allocate(kCount * sizeof(float), 0, stream);
  cuda::copy_async(a, pinned_in, kCount * sizeof(float), cuda::CopyKind::host_to_device, 0, stream);
  cuda::copy_async(b, a, kCount * sizeof(float), cuda::CopyKind::device_to_device, 0, stream);
  cuda::copy_async(pinned_out, b, kCount * sizeof(float), cuda::CopyKind::device_to_host, 0, stream);
  cuda::copy_async(pinned_out, b, 0, cuda::CopyKind::device_to_host, 0, stream);  // no-op
  cuda::synchronize(stream);
  EXPECT_EQ(std::memcmp(pinned_in, pinned_out, kCount * sizeof(float)), 0);

  cuda::release(a, 0);
  cuda::release(b, 0);
  cuda::destroy_stream(stream);
  cuda::destroy_stream(nullptr);
  cuda::synchronize(0);
  cuda::release_pinned(pinned_in);
  cuda::release_pinned(pinned_out);
  cuda::empty_cache(0);
}

}  // namespace
}  // namespace graft
