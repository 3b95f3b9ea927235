#pragma once
// What the bench_cuda_* suites share for their data: device arrays that free themselves, filled
// from the host, and the repeating random pattern the GEMM and convolution benchmarks fill their
// operands with (fast to upload for hundreds of millions of elements).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "bench/cuda_timing.h"

namespace graft::bench {

// Device memory for `count` elements of T, released on destruction.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(int64_t count) : count_(count) {
    check_cuda(cudaMalloc(&data_, static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T)), "cudaMalloc");
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(static_cast<int64_t>(host.size())) {
    check_cuda(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return data_; }
  int64_t count() const { return count_; }

  // Repeats `pattern` over the whole array.
  void fill(const std::vector<T>& pattern) {
    for (int64_t done = 0; done < count_;) {
      const int64_t n = std::min<int64_t>(count_ - done, static_cast<int64_t>(pattern.size()));
      check_cuda(cudaMemcpy(data_ + done, pattern.data(), n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
      done += n;
    }
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    check_cuda(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return host;
  }

 private:
  T* data_ = nullptr;
  int64_t count_;
};

// Random values in [-1, 1] with a prime period, so that the repetition never lines up with a row
// of a power-of-two matrix or a channel plane.
inline const std::vector<float>& random_pattern() {
  static const std::vector<float> pattern = [] {
    std::mt19937 rng(2024);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(1'000'003);
    for (float& x : v) x = dist(rng);
    return v;
  }();
  return pattern;
}

// The same pattern's absolute values (operands of the error-scale computation).
inline const std::vector<float>& absolute_pattern() {
  static const std::vector<float> pattern = [] {
    std::vector<float> v = random_pattern();
    for (float& x : v) x = std::abs(x);
    return v;
  }();
  return pattern;
}

}  // namespace graft::bench
