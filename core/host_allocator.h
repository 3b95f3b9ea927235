#pragma once
// Host memory for CPU tensors goes through a CachingAllocator (core/caching_allocator.h) too.
//
// Why: a training step allocates and frees the same activation sizes every time; from malloc, the
// large ones come as fresh pages that the kernel faults in and zeroes on first touch (the kernel
// took 5.7% of a profiled resnet18 step on the CPU; bench/results/cpu.md). From the cache, the
// pages are reused as they are.
//
// GRAFT_CPU_NO_CACHING=1 (read once) turns the cache off: every tensor is an aligned_alloc of its
// own, freed when the last tensor viewing it goes (for memory checkers, which see overruns inside a
// cached segment only then). Blocks are 64-byte aligned either way.
#include <cstddef>

#include "core/caching_allocator.h"

namespace graft::host {

bool caching_enabled();

// At least `bytes` of host memory, 64-byte aligned; nullptr for 0 bytes. Throws an Error naming the
// request and the memory in use when the host has none left.
void* allocate(size_t bytes);
// Returns memory from allocate(); nullptr is a no-op.
void release(void* ptr);

// The host cache's counters (all zero with the cache off).
AllocatorStats memory_stats();
// Returns the fully free cached segments to the system.
void empty_cache();

}  // namespace graft::host
