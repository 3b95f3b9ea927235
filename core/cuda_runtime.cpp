#include "core/cuda_runtime.h"

#include "core/error.h"

#ifdef GRAFT_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace graft::cuda {

#ifdef GRAFT_WITH_CUDA

namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA ", what, " failed: ", cudaGetErrorString(status));
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

void check_device(int index) {
  const int count = device_count();
  GRAFT_CHECK(index >= 0 && index < count, "CUDA device ", index, " requested but ", count,
              " device(s) are available; use --device cpu or a smaller index");
}

void* allocate(size_t bytes, int device) {
  check_device(device);
  check(cudaSetDevice(device), "cudaSetDevice");
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    fail("CUDA out of memory on device ", device, ": tried to allocate ", bytes >> 20, " MiB with ",
         free_bytes >> 20, " MiB free of ", total_bytes >> 20, " MiB; reduce the batch size");
  }
  check(status, "cudaMalloc");
  return ptr;
}

void release(void* ptr, int device) {
  cudaSetDevice(device);
  cudaFree(ptr);
}

void* allocate_pinned(size_t bytes) {
  GRAFT_CHECK(device_count() > 0, "pinned host memory needs a CUDA GPU, and none is available; turn pin_memory off");
  void* ptr = nullptr;
  const cudaError_t status = cudaHostAlloc(&ptr, bytes, cudaHostAllocDefault);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    fail("cannot allocate ", bytes >> 20, " MiB of pinned host memory; reduce the batch size or turn pin_memory off");
  }
  check(status, "cudaHostAlloc");
  return ptr;
}

void release_pinned(void* ptr) {
  if (ptr) cudaFreeHost(ptr);
}

void copy(void* dst, const void* src, size_t bytes, CopyKind kind, int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
  check(cudaMemcpy(dst, src, bytes, k), "cudaMemcpy");
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
void* allocate(size_t, int) { no_cuda(); }
void release(void*, int) {}
void* allocate_pinned(size_t) { no_cuda(); }
void release_pinned(void*) {}
void copy(void*, const void*, size_t, CopyKind, int) { no_cuda(); }

#endif

}  // namespace graft::cuda
