// SGEMM throughput of the hand-written CPU kernel: square sizes on one thread and on all threads,
// GFLOP/s counted as 2*m*n*k per call, with the micro-kernel GRAFT_CPU_ISA picks (default: the
// fastest this CPU runs). BM_SgemmPeakFraction sets the 1024^3 single-thread result against this
// core's measured FP32 FMA peak at the kernel's vector width (in-register FMA loops, see
// fma_peak_flops and fma512_peak_flops).
//   ./bench_gemm --benchmark_repetitions=5        (on a shared machine, take the best repetition)
// Single-thread rates are per second of this thread's CPU time, so other processes sharing the
// core do not count against them; all-thread rates are per second of wall time.
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/gemm.h"

namespace {

using graft::kernels::cpu::gemm;
using graft::kernels::cpu::num_threads;
using graft::kernels::cpu::set_num_threads;
using graft::kernels::cpu::sgemm_isa;

struct SquareProblem {
  int64_t n;
  std::vector<float> a, b, c;
  explicit SquareProblem(int64_t size) : n(size), a(size * size), b(size * size), c(size * size) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto* v : {&a, &b})
      for (float& x : *v) x = dist(rng);
  }
  void run() {
    gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  double flops() const { return 2.0 * n * n * n; }
};

// Runs the benchmark's size on `threads` threads, then restores the configured count.
void run_square(benchmark::State& state, int threads) {
  const int saved = num_threads();
  set_num_threads(threads);
  SquareProblem problem(state.range(0));
  problem.run();  // warm-up: packing buffers, thread pool
  for (auto _ : state) problem.run();
  state.counters["GFLOP/s"] =
      benchmark::Counter(problem.flops() * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
  set_num_threads(saved);
}

void BM_Sgemm_1Thread(benchmark::State& state) { run_square(state, 1); }
void BM_Sgemm_AllThreads(benchmark::State& state) { run_square(state, num_threads()); }
BENCHMARK(BM_Sgemm_1Thread)->RangeMultiplier(2)->Range(256, 2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sgemm_AllThreads)
    ->RangeMultiplier(2)
    ->Range(256, 2048)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// CPU time of the calling thread, in seconds.
double thread_seconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}

// 10 independent chains of `x = x * a + b` on 8 floats each: more FMAs in flight than the two FMA
// pipes times the 4-cycle latency need. Named variables (not an array) so they live in registers.
// Returns the FP32 flop/s of one core.
__attribute__((target("avx2,fma"))) double fma_peak_flops() {
  constexpr int kChains = 10;
  constexpr int64_t kSteps = 50'000'000;
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  // Distinct starting values, so the compiler cannot merge chains. (No helper lambda: a lambda does
  // not inherit this function's target, and the intrinsics would not inline into it.)
  __m256 x0 = _mm256_set1_ps(0.0f), x1 = _mm256_set1_ps(0.1f), x2 = _mm256_set1_ps(0.2f),
         x3 = _mm256_set1_ps(0.3f), x4 = _mm256_set1_ps(0.4f), x5 = _mm256_set1_ps(0.5f),
         x6 = _mm256_set1_ps(0.6f), x7 = _mm256_set1_ps(0.7f), x8 = _mm256_set1_ps(0.8f),
         x9 = _mm256_set1_ps(0.9f);
  double best = 0.0;
  for (int trial = 0; trial < 3; ++trial) {
    const double start = thread_seconds();
    for (int64_t s = 0; s < kSteps; ++s) {
      x0 = _mm256_fmadd_ps(x0, a, b);
      x1 = _mm256_fmadd_ps(x1, a, b);
      x2 = _mm256_fmadd_ps(x2, a, b);
      x3 = _mm256_fmadd_ps(x3, a, b);
      x4 = _mm256_fmadd_ps(x4, a, b);
      x5 = _mm256_fmadd_ps(x5, a, b);
      x6 = _mm256_fmadd_ps(x6, a, b);
      x7 = _mm256_fmadd_ps(x7, a, b);
      x8 = _mm256_fmadd_ps(x8, a, b);
      x9 = _mm256_fmadd_ps(x9, a, b);
    }
    best = std::max(best, double(kSteps) * kChains * 8 * 2 / (thread_seconds() - start));
  }
  for (__m256 x : {x0, x1, x2, x3, x4, x5, x6, x7, x8, x9}) benchmark::DoNotOptimize(x);
  return best;
}

// The same on 16-float vectors (AVX-512F), with 12 chains: the peak of the avx512 kernel.
__attribute__((target("avx512f"))) double fma512_peak_flops() {
  constexpr int kChains = 12;
  constexpr int64_t kSteps = 25'000'000;
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  __m512 x0 = _mm512_set1_ps(0.0f), x1 = _mm512_set1_ps(0.1f), x2 = _mm512_set1_ps(0.2f),
         x3 = _mm512_set1_ps(0.3f), x4 = _mm512_set1_ps(0.4f), x5 = _mm512_set1_ps(0.5f),
         x6 = _mm512_set1_ps(0.6f), x7 = _mm512_set1_ps(0.7f), x8 = _mm512_set1_ps(0.8f),
         x9 = _mm512_set1_ps(0.9f), x10 = _mm512_set1_ps(1.0f), x11 = _mm512_set1_ps(1.1f);
  double best = 0.0;
  for (int trial = 0; trial < 3; ++trial) {
    const double start = thread_seconds();
    for (int64_t s = 0; s < kSteps; ++s) {
      x0 = _mm512_fmadd_ps(x0, a, b);
      x1 = _mm512_fmadd_ps(x1, a, b);
      x2 = _mm512_fmadd_ps(x2, a, b);
      x3 = _mm512_fmadd_ps(x3, a, b);
      x4 = _mm512_fmadd_ps(x4, a, b);
      x5 = _mm512_fmadd_ps(x5, a, b);
      x6 = _mm512_fmadd_ps(x6, a, b);
      x7 = _mm512_fmadd_ps(x7, a, b);
      x8 = _mm512_fmadd_ps(x8, a, b);
      x9 = _mm512_fmadd_ps(x9, a, b);
      x10 = _mm512_fmadd_ps(x10, a, b);
      x11 = _mm512_fmadd_ps(x11, a, b);
    }
    best = std::max(best, double(kSteps) * kChains * 16 * 2 / (thread_seconds() - start));
  }
  for (__m512 x : {x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11}) benchmark::DoNotOptimize(x);
  return best;
}

void BM_SgemmPeakFraction(benchmark::State& state) {
  const std::string isa = sgemm_isa();
  if (isa == "portable") {
    state.SkipWithError("the portable kernel has no vector width to measure a peak at");
    return;
  }
  const double peak = isa == "avx512" ? fma512_peak_flops() : fma_peak_flops();
  const int saved = num_threads();
  set_num_threads(1);
  SquareProblem problem(1024);
  problem.run();
  double best_seconds = 1e30;
  for (auto _ : state) {
    const double start = thread_seconds();
    problem.run();
    best_seconds = std::min(best_seconds, thread_seconds() - start);
  }
  set_num_threads(saved);
  const double achieved = problem.flops() / best_seconds;
  state.counters["peak_GFLOP/s"] = peak * 1e-9;
  state.counters["best_GFLOP/s"] = achieved * 1e-9;
  state.counters["fraction_of_peak"] = achieved / peak;
  state.SetLabel(isa + " kernel");
}
BENCHMARK(BM_SgemmPeakFraction)->Iterations(20)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
