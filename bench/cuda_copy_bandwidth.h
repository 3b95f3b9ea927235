#pragma once
// What the bandwidth-bound CUDA benchmarks share (bench_cuda_light, bench_cuda_norm_pool): their
// yardstick, what cudaMemcpyAsync achieves device to device (a kernel that reads and writes each
// byte once can at best match it, so the suites report their GB/s as a fraction of it), inputs,
// validation, the validate-then-time harness and the closing table.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bench/cuda_timing.h"
#include "benchmark/benchmark.h"

namespace graft::bench {

// Bytes per second of cudaMemcpyAsync device to device, 256 MiB, read + written: the median of 15
// calls after an L2 flush each. Measured once, on first use.
inline double copy_bytes_per_second() {
  static const double measured = [] {
    const size_t bytes = size_t{256} << 20;
    void *src = nullptr, *dst = nullptr;
    check_cuda(cudaMalloc(&src, bytes), "cudaMalloc");
    check_cuda(cudaMalloc(&dst, bytes), "cudaMalloc");
    check_cuda(cudaMemset(src, 1, bytes), "cudaMemset");
    L2Flusher flusher;
    cudaEvent_t start, stop;
    check_cuda(cudaEventCreate(&start), "cudaEventCreate");
    check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
    std::vector<float> ms(16);
    for (float& t : ms) {
      flusher.flush(nullptr);
      check_cuda(cudaEventRecord(start, nullptr), "cudaEventRecord");
      check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, nullptr), "cudaMemcpyAsync");
      check_cuda(cudaEventRecord(stop, nullptr), "cudaEventRecord");
      check_cuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
      check_cuda(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
    }
    ms.erase(ms.begin());  // the first call pays for first touch
    std::sort(ms.begin(), ms.end());
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaFree(src);
    cudaFree(dst);
    return 2.0 * double(bytes) / (ms[ms.size() / 2] * 1e-3);
  }();
  return measured;
}


// Deterministic values in [lo, hi) (a hash of the index: fast for tens of millions of elements).
inline std::vector<float> pattern(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = uint64_t(i) * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 31)) * 0x94d049bb133111ebull;
    v[i] = lo + (hi - lo) * float((z >> 40) & 0xffffff) / float(1 << 24);
  }
  return v;
}

// "" when every actual[i] is within tol * max(1, |expected[i]|) of expected[i], else a message.
template <typename T>
std::string compare(const std::vector<T>& actual, const std::vector<T>& expected, double tol, const char* what = "") {
  if (actual.size() != expected.size()) return std::string(what) + (*what ? ": " : "") + "size mismatch";
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = double(actual[i]), e = double(expected[i]);
    if (!(std::abs(a - e) <= tol * std::max(1.0, std::abs(e))))
      return std::string(what) + (*what ? ": " : "") + "mismatch at " + std::to_string(i) + ": " +
             std::to_string(a) + " vs " + std::to_string(e);
  }
  return "";
}

// Reports GB/s and the fraction of the copy bandwidth of `bytes_per_call` moved per iteration.
inline void report_bandwidth(benchmark::State& state, double bytes_per_call) {
  const double bytes = bytes_per_call * double(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsRate);
  state.counters["of_copy"] = benchmark::Counter(bytes / copy_bytes_per_second(), benchmark::Counter::kIsRate);
}

// Validates one call (`validate` returns "" or what is wrong), then times `run(stream)`.
inline void measure(benchmark::State& state, double bytes_per_call, const std::function<std::string()>& validate,
             const std::function<void(cudaStream_t)>& run) {
  copy_bytes_per_second();  // measured before anything else is on the GPU
  if (const std::string error = validate(); !error.empty()) {
    state.SkipWithError(("validation failed: " + error).c_str());
    return;
  }
  time_on_gpu(state, run);
  report_bandwidth(state, bytes_per_call);
}

// The console output, plus a markdown table of every run's time and bandwidth, printed at the end
// under a '### ' heading that names the suite and the GPU.
class BandwidthTableReporter : public benchmark::ConsoleReporter {
 public:
  explicit BandwidthTableReporter(std::string title) : title_(std::move(title)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      const std::string name = run.benchmark_name();
      if (run.error_occurred) {
        rows_.push_back("| " + name + " | failed: " + run.error_message + " | | |");
        continue;
      }
      char row[320];
      std::snprintf(row, sizeof(row), "| %s | %.1f %s | %.0f | %.2f |", name.c_str(), run.GetAdjustedRealTime(),
                    benchmark::GetTimeUnitString(run.time_unit), double(run.counters.at("GB/s")),
                    double(run.counters.at("of_copy")));
      rows_.push_back(row);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void print_summary() const {
    cudaDeviceProp props{};
    check_cuda(cudaGetDeviceProperties(&props, 0), "cudaGetDeviceProperties");
    std::printf("\n### %s on %s (device-to-device copy: %.0f GB/s)\n\n", title_.c_str(), props.name,
                copy_bytes_per_second() * 1e-9);
    std::printf("| kernel | time | GB/s | fraction of copy |\n|---|---|---|---|\n");
    for (const std::string& row : rows_) std::printf("%s\n", row.c_str());
  }

 private:
  std::string title_;
  std::vector<std::string> rows_;
};

}  // namespace graft::bench
