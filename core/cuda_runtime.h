#pragma once
// The thin layer over the CUDA runtime that core needs: device count, allocation (device and pinned
// host memory), streams and copies.
//
// Device memory goes through one CachingAllocator per device (core/caching_allocator.h): released
// blocks are kept for reuse instead of going back to cudaFree, so memory_stats().reserved_bytes, not
// allocated_bytes, is what nvidia-smi shows graft holding; empty_cache() hands the unused part back.
// A block belongs to the stream it was allocated on and is reused only on that stream.
//
// In a build without CUDA every call except built_with_cuda(), device_count(), caching_enabled()
// and the release functions (no-ops there) raises an Error that says so; memory_stats, empty_cache
// and reset_peak_memory_stats included.
#include <cstddef>

#include "core/caching_allocator.h"
#include "kernels/stream.h"

namespace graft::cuda {

using Stream = kernels::Stream;

bool built_with_cuda();
// Number of usable CUDA devices (0 without a GPU, a driver, or CUDA support in the build).
int device_count();
// Throws unless device `index` exists, naming what is available.
void check_device(int index);
// Makes `index` the calling thread's current device: kernels launched after it run there.
void set_device(int index);

// Whether device memory goes through the caching allocator: true unless the environment sets
// GRAFT_CUDA_NO_CACHING=1 (read once). Without the cache every allocate() is a cudaMalloc of its
// own and every release() a cudaFree (which waits for the device: slow). For compute-sanitizer's
// memcheck: inside a cached segment an access past a tensor's end lands in another block of the
// same cudaMalloc and goes unreported; in an allocation of its own it is reported.
bool caching_enabled();

// `bytes` of memory on `device` for use on `stream` (nullptr: the default stream); nullptr for 0
// bytes. Throws an Error naming the request and the memory in use when the device is full even after
// the cache was emptied. Use the memory on its stream only: after release() the block may be handed
// out again at once to the next request on that stream.
void* allocate(size_t bytes, int device, Stream stream = nullptr);
// Returns memory from allocate() to the device's cache; nullptr is a no-op.
void release(void* ptr, int device);

// The caching allocator's counters for `device`.
AllocatorStats memory_stats(int device);
// Returns the device's fully free cached segments to CUDA (cudaFree; this synchronizes the device).
void empty_cache(int device);
// Restarts peak_allocated_bytes and peak_reserved_bytes from the current values.
void reset_peak_memory_stats(int device);

// Page-locked (pinned) host memory, which the GPU reads by DMA: copies from it to a device are
// faster and can run asynchronously. Needs a CUDA build and a GPU; release_pinned(nullptr) is a no-op.
// Released blocks are cached for reuse (up to 1 GiB), as pinning is slow and freeing waits for the
// device: release a block only after the asynchronous copies that use it have completed.
void* allocate_pinned(size_t bytes);
void release_pinned(void* ptr);

// A new stream on `device`. It is a blocking stream: work on it still orders with the default
// stream (cudaMemcpy, copy(), kernels launched on nullptr), which keeps mixed use safe.
Stream create_stream(int device);
// Waits for the stream's work, then destroys it, so memory cached for it is idle should a later stream
// get the same handle. That memory stays cached until empty_cache(). nullptr (the default stream) is
// a no-op.
void destroy_stream(Stream stream);
// Wait for all work on `device`, or on one stream; a failure of earlier asynchronous work (a kernel
// that faulted) surfaces here as an Error with CUDA's description.
void synchronize(int device);
void synchronize(Stream stream);

enum class CopyKind { host_to_device, device_to_host, device_to_device };
// Synchronous: returns when the bytes have arrived.
void copy(void* dst, const void* src, size_t bytes, CopyKind kind, int device);
// Queued on `stream` and returns at once; the memory must stay valid until the stream reaches it.
// It overlaps with the host only when host memory is pinned (allocate_pinned): with pageable memory
// the call may block until the bytes are copied or staged. 0 bytes is a no-op.
void copy_async(void* dst, const void* src, size_t bytes, CopyKind kind, int device, Stream stream);

}  // namespace graft::cuda
