#pragma once
// What every light CUDA kernel's host side needs: launch checks that name the kernel, grid sizes
// for grid-stride loops, and scratch memory ordered on the stream.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <stdexcept>
#include <string>

namespace graft::kernels::cuda {

// Threads per block of the elementwise and reduction kernels: eight warps.
constexpr int kBlockThreads = 256;
// The hardware limit on gridDim.x.
constexpr int64_t kMaxGridBlocks = (int64_t{1} << 31) - 1;

// Throws std::runtime_error, naming the kernel, when the launch just made failed (bad
// configuration, no device, an earlier asynchronous fault).
inline void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(kernel) + ": CUDA kernel launch failed: " + cudaGetErrorString(status));
}

// Throws std::runtime_error when a CUDA runtime call made for the kernel failed.
inline void check_call(cudaError_t status, const char* kernel, const char* call) {
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear it: the failure is reported here
    throw std::runtime_error(std::string(kernel) + ": " + call + " failed: " + cudaGetErrorString(status));
  }
}

inline void check_sizes_not_negative(const char* kernel, std::initializer_list<int64_t> sizes) {
  for (const int64_t size : sizes)
    if (size < 0)
      throw std::invalid_argument(std::string(kernel) + ": sizes must not be negative (got " + std::to_string(size) +
                                  ")");
}

// Throws std::invalid_argument if a pointer the kernel would dereference is null (a null device
// pointer would fault on the GPU and leave the CUDA context unusable).
inline void check_not_null(const char* kernel, std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (p == nullptr) throw std::invalid_argument(std::string(kernel) + ": a data pointer is null");
}

// std::min is not callable in device code without --expt-relaxed-constexpr.
__host__ __device__ inline int64_t min_index(int64_t a, int64_t b) { return a < b ? a : b; }

// One block per work item, up to what gridDim.x allows (kernels loop over the rest).
inline int blocks_for(int64_t work_items) { return int(std::clamp<int64_t>(work_items, 1, kMaxGridBlocks)); }

// Blocks for a grid-stride loop over `threads_needed` threads: enough to cover them, at most two
// waves of fully resident blocks on the current device, so that every thread loops over several
// elements rather than the GPU scheduling millions of short-lived blocks.
inline int grid_stride_blocks(int64_t threads_needed, int threads_per_block = kBlockThreads) {
  int device = 0, multiprocessors = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();     // leave no error behind: the launch itself reports a missing device
    multiprocessors = 132;  // an H100's count; only the speed depends on it
  }
  const int64_t resident = int64_t(multiprocessors) * (2048 / threads_per_block);
  const int64_t needed = (threads_needed + threads_per_block - 1) / threads_per_block;
  return int(std::clamp<int64_t>(needed, 1, 2 * resident));
}

// The stream-ordered allocator's pool returns its memory to the driver at every synchronization
// while it holds more than its release threshold, 0 by default, and the next allocation then maps
// memory again (tens of microseconds). Raise the threshold of the current device's default pool
// to kKeptPoolBytes (never lower it), once per device: the scratch buffers are at most a few MiB.
inline void keep_pool_memory_mapped() {
  constexpr uint64_t kKeptPoolBytes = uint64_t{64} << 20;
  constexpr int kMaxDevices = 64;
  static std::once_flag once[kMaxDevices];
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) {
    cudaGetLastError();  // the allocation that follows reports the problem
    return;
  }
  std::call_once(once[device], [device] {
    cudaMemPool_t pool;
    uint64_t threshold = 0;
    if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess &&
        cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold) == cudaSuccess &&
        threshold < kKeptPoolBytes) {
      uint64_t kept = kKeptPoolBytes;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &kept);
    }
    cudaGetLastError();  // only speed depends on it
  });
}

// Device memory from CUDA's stream-ordered allocator, freed on the same stream when this goes out
// of scope: the free is queued after the kernels that use it, and nothing waits for the GPU.
class StreamScratch {
 public:
  StreamScratch(size_t bytes, cudaStream_t stream, const char* kernel) : stream_(stream) {
    keep_pool_memory_mapped();
    const cudaError_t status = cudaMallocAsync(&ptr_, bytes, stream);
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear it: the failure is reported here
      throw std::runtime_error(std::string(kernel) + ": could not allocate " + std::to_string(bytes) +
                               " bytes of scratch memory on the GPU: " + cudaGetErrorString(status));
    }
  }
  ~StreamScratch() { cudaFreeAsync(ptr_, stream_); }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;

  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace graft::kernels::cuda
