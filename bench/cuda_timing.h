#pragma once
// Timing CUDA work for the bench_cuda_* suites, the llm.c way: validate first (the suites do), then
// time each call with CUDA events on one stream, with the L2 cache flushed before every call so a
// kernel never reads its inputs from the previous call's cache. Results go to Google Benchmark as
// manual time.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "benchmark/benchmark.h"

namespace graft::bench {

inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "%s failed: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

// A device buffer twice the size of the L2 cache; writing it evicts everything else from L2.
class L2Flusher {
 public:
  L2Flusher() {
    int device = 0, l2_bytes = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device), "cudaDeviceGetAttribute");
    bytes_ = 2 * static_cast<size_t>(l2_bytes);
    check_cuda(cudaMalloc(&buffer_, bytes_), "cudaMalloc (L2 flush buffer)");
  }
  ~L2Flusher() { cudaFree(buffer_); }
  L2Flusher(const L2Flusher&) = delete;
  L2Flusher& operator=(const L2Flusher&) = delete;

  void flush(cudaStream_t stream) { check_cuda(cudaMemsetAsync(buffer_, 0, bytes_, stream), "cudaMemsetAsync"); }

 private:
  void* buffer_ = nullptr;
  size_t bytes_ = 0;
};

// Runs `work(stream)` once per benchmark iteration between two events, after an L2 flush, and
// reports the event time as the iteration's manual time. Call with ->UseManualTime().
template <typename Work>
void time_on_gpu(benchmark::State& state, Work&& work) {
  cudaStream_t stream = nullptr;
  check_cuda(cudaStreamCreate(&stream), "cudaStreamCreate");
  cudaEvent_t start, stop;
  check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  L2Flusher flusher;
  work(stream);  // warm-up: module loading, first-touch and library workspace allocation
  check_cuda(cudaStreamSynchronize(stream), "warm-up");
  for (auto _ : state) {
    flusher.flush(stream);
    check_cuda(cudaEventRecord(start, stream), "cudaEventRecord");
    work(stream);
    check_cuda(cudaEventRecord(stop, stream), "cudaEventRecord");
    check_cuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms / 1e3);
  }
  check_cuda(cudaGetLastError(), "the timed kernels");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
}

}  // namespace graft::bench
