#pragma once
// The thin layer over the CUDA runtime that core needs: device count, allocation (device and pinned
// host memory) and copies.
// In a build without CUDA every call except device_count() raises an Error that says so.
#include <cstddef>

namespace graft::cuda {

bool built_with_cuda();
// Number of usable CUDA devices (0 without a GPU, a driver, or CUDA support in the build).
int device_count();
// Throws unless device `index` exists, naming what is available.
void check_device(int index);

void* allocate(size_t bytes, int device);
void release(void* ptr, int device);

// Page-locked (pinned) host memory, which the GPU reads by DMA: copies from it to a device are
// faster and can run asynchronously. Needs a CUDA build and a GPU; release_pinned(nullptr) is a no-op.
void* allocate_pinned(size_t bytes);
void release_pinned(void* ptr);

enum class CopyKind { host_to_device, device_to_host, device_to_device };
void copy(void* dst, const void* src, size_t bytes, CopyKind kind, int device);

}  // namespace graft::cuda
