#pragma once
// A caching allocator for device memory, in the manner of PyTorch's CUDA caching allocator.
//
// Why: cudaMalloc and cudaFree are slow (cudaFree synchronizes the whole device), and a training step
// allocates and frees the same tensor sizes over and over. So memory taken from the device is kept:
// a freed block goes back to a pool and the next request of a fitting size reuses it.
//
// How:
// - Requests are rounded up to 512 bytes. Small requests (<= 1 MiB) are cut from 2 MiB segments;
//   large ones get segments rounded up to 2 MiB. Small and large blocks live in separate pools, so
//   small tensors do not fragment the big segments.
// - A request takes the smallest free block of its pool that fits (best fit) and splits off the rest
//   when the rest is worth keeping (>= 512 bytes in the small pool, > 1 MiB in the large one).
// - A released block merges with its free neighbours in the same segment, so a segment whose blocks
//   are all free becomes one block again, reusable whole or returned by empty_cache().
// - When the device is out of memory, every fully free cached segment is returned and the request is
//   tried once more; if it still fails, a graft::Error names the request, the memory graft holds and
//   what the device has left.
//
// Streams: each block belongs to the stream it was allocated on (an opaque key here) and is reused
// only for requests on that same stream. Work on one stream runs in order, so a block freed on S can
// be handed out again on S at once: the new user's kernels queue behind the old user's. There is no
// tracking of use on other streams (no events): a block must not be used on a stream other than
// its own after release, and a stream must be idle before its handle can be reused.
//
// The device itself hides behind AllocatorBackend, so this logic runs and is tested on the CPU with
// a fake backend. All methods are thread-safe (one mutex).
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace graft {

// Where the memory comes from: a CUDA device, or a fake one in tests.
class AllocatorBackend {
 public:
  struct MemoryInfo {
    size_t free_bytes = 0;
    size_t total_bytes = 0;
  };

  virtual ~AllocatorBackend() = default;
  // `bytes` of fresh memory, or nullptr when the device has no room for them.
  virtual void* raw_allocate(size_t bytes) = 0;
  virtual void raw_release(void* ptr) = 0;
  virtual MemoryInfo memory_info() = 0;
};

struct AllocatorStats {
  // In blocks handed out now: each request rounded up to 512 bytes, or the whole block when the rest
  // was too small to split off.
  size_t allocated_bytes = 0;
  size_t allocated_blocks = 0;
  size_t peak_allocated_bytes = 0;
  size_t reserved_bytes = 0;  // in segments held from the device: allocated plus cached
  size_t peak_reserved_bytes = 0;
  size_t raw_allocations = 0;  // segments taken from the device (successful raw_allocate calls)
  size_t cache_hits = 0;       // requests served from cached memory, without raw_allocate
  size_t oom_retries = 0;      // times the device was full and the cache was emptied to retry
};

class CachingAllocator {
 public:
  static constexpr size_t kRounding = 512;                // every block size is a multiple of this
  static constexpr size_t kSmallRequest = size_t{1} << 20;  // up to this: small pool
  static constexpr size_t kSmallSegment = size_t{2} << 20;  // segment size of the small pool
  static constexpr size_t kLargeSegmentRounding = size_t{2} << 20;

  // `where` names the memory in error messages: "CUDA device 0", "the host".
  CachingAllocator(std::unique_ptr<AllocatorBackend> backend, std::string where);
  // Returns the cached segments; segments with blocks still in use stay with the backend.
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // At least `bytes` of memory for use on `stream`; nullptr for 0 bytes. Throws graft::Error when
  // the device cannot provide it even after emptying the cache.
  void* allocate(size_t bytes, const void* stream = nullptr);
  // Returns a block to the cache; nullptr is a no-op. Throws graft::Error for a pointer that this
  // allocator did not hand out (or that was already released).
  void release(void* ptr);
  // Returns every fully free segment to the backend.
  void empty_cache();

  AllocatorStats stats() const;
  // Peaks restart from the current values.
  void reset_peak();

  // The rounded size of a block serving `bytes`, and the segment size that block is cut from.
  static size_t round_size(size_t bytes);
  static size_t segment_size(size_t rounded_bytes);

 private:
  // A piece of a segment. Blocks of one segment form a list in address order (prev/next); a block
  // with neither is a whole segment.
  struct Block {
    char* ptr = nullptr;
    size_t size = 0;
    const void* stream = nullptr;
    bool small_pool = false;
    bool allocated = false;
    Block* prev = nullptr;
    Block* next = nullptr;
  };
  // Free blocks ordered by stream, then size, then address: lower_bound finds the best fit.
  struct BlockOrder {
    bool operator()(const Block* a, const Block* b) const;
  };
  using Pool = std::set<Block*, BlockOrder>;

  Pool& pool_of(bool small_pool) { return small_pool ? small_free_ : large_free_; }
  Block* take_cached_block(size_t size, const void* stream, bool small_pool);
  Block* new_segment(size_t size, const void* stream, bool small_pool);
  void split(Block* block, size_t size);
  void free_block(Block* block);
  void release_free_segments();
  [[noreturn]] void fail_out_of_memory(size_t requested_bytes);

  std::unique_ptr<AllocatorBackend> backend_;
  const std::string where_;
  mutable std::mutex mutex_;
  Pool small_free_;
  Pool large_free_;
  std::unordered_map<void*, Block*> allocated_;
  AllocatorStats stats_;
};

}  // namespace graft
