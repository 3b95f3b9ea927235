#pragma once
// The Google Benchmark reporter of the compute-bound suites (bench_cuda_gemm, bench_cuda_conv2d):
// prints as the console reporter does, and keeps the best TFLOP/s of every benchmark (over
// repetitions), computed from its manual (event) times, for the summary tables printed at the end.
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"

namespace graft::bench {

class BestTflopsReporter : public benchmark::ConsoleReporter {
 public:
  // `flops`: floating-point operations per call of each benchmark, by name.
  explicit BestTflopsReporter(std::map<std::string, double> flops) : flops_(std::move(flops)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      const auto flops = flops_.find(run.run_name.function_name);
      if (run.error_occurred || run.run_type != Run::RT_Iteration || flops == flops_.end() || run.iterations == 0)
        continue;
      const double seconds_per_call = run.real_accumulated_time / double(run.iterations);
      double& best = best_tflops_[run.run_name.function_name];
      best = std::max(best, flops->second * 1e-12 / seconds_per_call);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // 0 for a benchmark that did not run (or failed its validation).
  double best(const std::string& name) const {
    const auto it = best_tflops_.find(name);
    return it == best_tflops_.end() ? 0.0 : it->second;
  }

 private:
  std::map<std::string, double> flops_;
  std::map<std::string, double> best_tflops_;
};

}  // namespace graft::bench
