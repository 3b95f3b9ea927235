#include "core/caching_allocator.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>

#include "core/error.h"

namespace graft {

namespace {

// Larger requests cannot be rounded without overflow; no device has that much memory anyway.
constexpr size_t kLargestRequest = std::numeric_limits<size_t>::max() / 2;

std::string mib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

bool CachingAllocator::BlockOrder::operator()(const Block* a, const Block* b) const {
  if (a->stream != b->stream) return std::less<const void*>()(a->stream, b->stream);
  if (a->size != b->size) return a->size < b->size;
  return std::less<const char*>()(a->ptr, b->ptr);
}

CachingAllocator::CachingAllocator(std::unique_ptr<AllocatorBackend> backend, std::string where)
    : backend_(std::move(backend)), where_(std::move(where)) {}

CachingAllocator::~CachingAllocator() {
  release_free_segments();
  // What is left belongs to segments with blocks still in use: their memory stays with the backend,
  // only the bookkeeping goes.
  for (Block* block : small_free_) delete block;
  for (Block* block : large_free_) delete block;
  for (const auto& [ptr, block] : allocated_) delete block;
}

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes < kRounding) return kRounding;
  return (bytes + kRounding - 1) / kRounding * kRounding;
}

size_t CachingAllocator::segment_size(size_t rounded_bytes) {
  if (rounded_bytes <= kSmallRequest) return kSmallSegment;
  return (rounded_bytes + kLargeSegmentRounding - 1) / kLargeSegmentRounding * kLargeSegmentRounding;
}

void* CachingAllocator::allocate(size_t bytes, const void* stream) {
  if (bytes == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes > kLargestRequest) fail_out_of_memory(bytes);
  const size_t size = round_size(bytes);
  const bool small_pool = size <= kSmallRequest;

  Block* block = take_cached_block(size, stream, small_pool);
  if (block) {
    ++stats_.cache_hits;
  } else {
    block = new_segment(segment_size(size), stream, small_pool);
    if (!block) {
      ++stats_.oom_retries;
      release_free_segments();
      block = new_segment(segment_size(size), stream, small_pool);
    }
    if (!block) fail_out_of_memory(bytes);
  }
  split(block, size);
  block->allocated = true;
  allocated_.emplace(block->ptr, block);
  stats_.allocated_bytes += block->size;
  ++stats_.allocated_blocks;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return block->ptr;
}

void CachingAllocator::release(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = allocated_.find(ptr);
  GRAFT_CHECK(found != allocated_.end(), "CachingAllocator: release of ", ptr, " on ", where_,
              ", which this allocator did not hand out or has already taken back; release each pointer "
              "once, to the device it was allocated on");
  Block* block = found->second;
  allocated_.erase(found);
  stats_.allocated_bytes -= block->size;
  --stats_.allocated_blocks;
  free_block(block);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

// The smallest free block of the pool on `stream` with at least `size` bytes, taken out of the pool.
CachingAllocator::Block* CachingAllocator::take_cached_block(size_t size, const void* stream, bool small_pool) {
  Pool& pool = pool_of(small_pool);
  Block key;
  key.size = size;
  key.stream = stream;
  const auto found = pool.lower_bound(&key);
  if (found == pool.end() || (*found)->stream != stream) return nullptr;
  Block* block = *found;
  pool.erase(found);
  return block;
}

// A whole new segment from the backend, or nullptr when the device is full.
CachingAllocator::Block* CachingAllocator::new_segment(size_t size, const void* stream, bool small_pool) {
  void* ptr = backend_->raw_allocate(size);
  if (!ptr) return nullptr;
  Block* block = new Block;
  block->ptr = static_cast<char*>(ptr);
  block->size = size;
  block->stream = stream;
  block->small_pool = small_pool;
  stats_.reserved_bytes += size;
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  ++stats_.raw_allocations;
  return block;
}

// Cuts `block` down to `size` bytes when the rest is worth keeping as a free block of its own. In the
// large pool a rest of 1 MiB or less is not: it would only ever serve small requests, which the
// small pool serves.
void CachingAllocator::split(Block* block, size_t size) {
  const size_t rest = block->size - size;
  const bool worth_it = block->small_pool ? rest >= kRounding : rest > kSmallRequest;
  if (!worth_it) return;
  Block* remainder = new Block;
  remainder->ptr = block->ptr + size;
  remainder->size = rest;
  remainder->stream = block->stream;
  remainder->small_pool = block->small_pool;
  remainder->prev = block;
  remainder->next = block->next;
  if (block->next) block->next->prev = remainder;
  block->next = remainder;
  block->size = size;
  pool_of(remainder->small_pool).insert(remainder);
}

// Marks `block` free, merges it with free neighbours of its segment, and puts the result in its pool.
void CachingAllocator::free_block(Block* block) {
  block->allocated = false;
  Pool& pool = pool_of(block->small_pool);
  if (Block* prev = block->prev; prev && !prev->allocated) {
    pool.erase(prev);
    prev->size += block->size;
    prev->next = block->next;
    if (block->next) block->next->prev = prev;
    delete block;
    block = prev;
  }
  if (Block* next = block->next; next && !next->allocated) {
    pool.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->prev = block;
    delete next;
  }
  pool.insert(block);
}

// Returns every cached block that is a whole segment to the backend.
void CachingAllocator::release_free_segments() {
  for (Pool* pool : {&small_free_, &large_free_}) {
    for (auto it = pool->begin(); it != pool->end();) {
      Block* block = *it;
      if (block->prev || block->next) {
        ++it;
        continue;
      }
      backend_->raw_release(block->ptr);
      stats_.reserved_bytes -= block->size;
      it = pool->erase(it);
      delete block;
    }
  }
}

void CachingAllocator::fail_out_of_memory(size_t requested_bytes) {
  const AllocatorBackend::MemoryInfo memory = backend_->memory_info();
  fail("out of memory on ", where_, ": tried to allocate ", mib(requested_bytes), " MiB; ",
       mib(stats_.allocated_bytes), " MiB allocated by graft (",
       mib(stats_.reserved_bytes - stats_.allocated_bytes), " MiB more cached), ", mib(memory.free_bytes),
       " MiB free of ", mib(memory.total_bytes), " MiB there; reduce the batch size (e.g. --batch-size N/2) or free tensors");
}

}  // namespace graft
