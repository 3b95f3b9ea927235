// The hand-written CUDA GEMMs against cuBLAS, FP32 and TF32, the llm.c way: before an own kernel is
// timed on a shape it is checked against cuBLAS on that shape (the run stops with a message if they
// differ); then every call is timed with CUDA events after an L2 flush (bench/cuda_timing.h).
//
// Shapes: squares 1024 to 8192, and the convolutions of ResNet-50 at batch 64 (224 x 224 input) as
// the implicit GEMMs C[M][N] = W[M][K] * columns[K][N] with M = output channels, N = batch * H_out *
// W_out, K = input channels * kh * kw; the fc layer is W[1000][2048] * X^T, X stored 64 x 2048.
// The counter TFLOP/s counts 2 * m * n * k per call. After the runs a markdown table gives own and
// cuBLAS TFLOP/s and their ratio per shape and precision.
//   ./bench_cuda_gemm                                  (everything: a few minutes on an H100)
//   ./bench_cuda_gemm --benchmark_filter='square'      (a subset; the table covers what ran)
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/best_tflops_reporter.h"
#include "bench/cuda_device_array.h"
#include "bench/cuda_timing.h"
#include "benchmark/benchmark.h"
#include "kernels/gemm.h"

namespace {

using graft::bench::absolute_pattern;
using graft::bench::BestTflopsReporter;
using graft::bench::check_cuda;
using graft::bench::DeviceArray;
using graft::bench::random_pattern;
namespace cuda = graft::kernels::cuda;
namespace vendor = graft::kernels::vendor;

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                        const float*, int64_t, float, float*, int64_t, graft::kernels::Stream);

struct Shape {
  const char* label;
  bool trans_a, trans_b;
  int64_t m, n, k;
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
};

const Shape kShapes[] = {
    {"square_1024", false, false, 1024, 1024, 1024},
    {"square_2048", false, false, 2048, 2048, 2048},
    {"square_4096", false, false, 4096, 4096, 4096},
    {"square_8192", false, false, 8192, 8192, 8192},
    {"resnet50_conv1_7x7_3to64", false, false, 64, 802816, 147},
    {"resnet50_layer1_1x1_64to64", false, false, 64, 200704, 64},
    {"resnet50_layer1_3x3_64to64", false, false, 64, 200704, 576},
    {"resnet50_layer1_1x1_64to256", false, false, 256, 200704, 64},
    {"resnet50_layer1_1x1_256to64", false, false, 64, 200704, 256},
    {"resnet50_layer2_3x3_128to128", false, false, 128, 50176, 1152},
    {"resnet50_layer2_1x1_128to512", false, false, 512, 50176, 128},
    {"resnet50_layer3_3x3_256to256", false, false, 256, 12544, 2304},
    {"resnet50_layer3_1x1_256to1024", false, false, 1024, 12544, 256},
    {"resnet50_layer4_3x3_512to512", false, false, 512, 3136, 4608},
    {"resnet50_layer4_1x1_512to2048", false, false, 2048, 3136, 512},
    {"resnet50_layer4_1x1_2048to512", false, false, 512, 3136, 2048},
    {"resnet50_fc_2048to1000", false, true, 1000, 64, 2048},
};

enum class Precision { fp32, tf32 };
enum class Impl { own, cublas };

const char* name_of(Precision p) { return p == Precision::fp32 ? "fp32" : "tf32"; }
const char* name_of(Impl i) { return i == Impl::own ? "own" : "cublas"; }

GemmFn gemm_for(Precision p, Impl i) {
  if (p == Precision::fp32) return i == Impl::own ? cuda::gemm : vendor::gemm;
  return i == Impl::own ? cuda::gemm_tf32 : vendor::gemm_tf32;
}

struct Operands {
  const Shape& shape;
  DeviceArray<float> a, b, c;
  explicit Operands(const Shape& s) : shape(s), a(s.m * s.k), b(s.k * s.n), c(s.m * s.n) {
    a.fill(random_pattern());
    b.fill(random_pattern());
  }
  int64_t lda() const { return shape.trans_a ? shape.m : shape.k; }
  int64_t ldb() const { return shape.trans_b ? shape.k : shape.n; }
  void run(GemmFn fn, const float* a_data, const float* b_data, float* c_data, cudaStream_t stream) const {
    fn(shape.trans_a, shape.trans_b, shape.m, shape.n, shape.k, 1.0f, a_data, lda(), b_data, ldb(), 0.0f, c_data,
       shape.n, stream);
  }
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_cuda_gemm: %s\n", what.c_str());
  std::exit(1);
}

// Stops the run unless the own kernel agrees with cuBLAS in the same precision: every element within
// 2 * tol * (sum_p |a_ip b_pj|), tol = 4 k eps(float), plus 2^-8 for TF32.
void validate(const Operands& ops, Precision precision) {
  const Shape& s = ops.shape;
  DeviceArray<float> reference(s.m * s.n), scale(s.m * s.n);
  ops.run(gemm_for(precision, Impl::own), ops.a.get(), ops.b.get(), ops.c.get(), nullptr);
  ops.run(gemm_for(precision, Impl::cublas), ops.a.get(), ops.b.get(), reference.get(), nullptr);
  {
    DeviceArray<float> abs_a(ops.a.count()), abs_b(ops.b.count());
    abs_a.fill(absolute_pattern());
    abs_b.fill(absolute_pattern());
    ops.run(vendor::gemm, abs_a.get(), abs_b.get(), scale.get(), nullptr);
  }
  check_cuda(cudaDeviceSynchronize(), "the validation products");
  const std::vector<float> own = ops.c.download(), want = reference.download(), bound = scale.download();
  const double tol = 4.0 * double(s.k) * std::numeric_limits<float>::epsilon() +
                     (precision == Precision::tf32 ? 1.0 / 256 : 0.0);
  for (int64_t e = 0; e < s.m * s.n; ++e)
    if (!(std::abs(double(own[e]) - double(want[e])) <= 2 * tol * bound[e] + std::numeric_limits<float>::min()))
      fail(std::string("own ") + name_of(precision) + " GEMM differs from cuBLAS on " + s.label + " at C(" +
           std::to_string(e / s.n) + ", " + std::to_string(e % s.n) + "): " + std::to_string(own[e]) + " vs " +
           std::to_string(want[e]) + "; not timing a wrong kernel");
}

void run_benchmark(benchmark::State& state, const Shape& shape, Precision precision, Impl impl) {
  try {
    Operands ops(shape);
    if (impl == Impl::own) validate(ops, precision);
    const GemmFn fn = gemm_for(precision, impl);
    graft::bench::time_on_gpu(state, [&](cudaStream_t stream) {
      ops.run(fn, ops.a.get(), ops.b.get(), ops.c.get(), stream);
    });
    state.counters["TFLOP/s"] = benchmark::Counter(shape.flops() * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  } catch (const std::exception& e) {
    fail(std::string(shape.label) + " " + name_of(precision) + " " + name_of(impl) + ": " + e.what());
  }
}

std::string benchmark_name(const Shape& s, Precision p, Impl i) {
  return std::string("gemm/") + name_of(p) + "/" + name_of(i) + "/" + s.label;
}

void print_summary(const BestTflopsReporter& reporter) {
  cudaDeviceProp props{};
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaGetDeviceProperties(&props, device), "cudaGetDeviceProperties");
  std::printf("\n### GEMM: own kernels vs cuBLAS on %s (TFLOP/s, best run; ratio = own / cuBLAS)\n\n", props.name);
  std::printf("| shape | m x n x k | FP32 own | FP32 cuBLAS | FP32 ratio | TF32 own | TF32 cuBLAS | TF32 ratio |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Shape& s : kShapes) {
    std::string row = std::string("| ") + s.label + " | " + std::to_string(s.m) + " x " + std::to_string(s.n) + " x " +
                      std::to_string(s.k) + (s.trans_b ? " (B^T)" : "") + " |";
    bool any = false;
    for (Precision p : {Precision::fp32, Precision::tf32}) {
      const double own = reporter.best(benchmark_name(s, p, Impl::own));
      const double theirs = reporter.best(benchmark_name(s, p, Impl::cublas));
      char cells[96];
      std::snprintf(cells, sizeof cells, " %.1f | %.1f | %.0f%% |", own, theirs, theirs > 0 ? 100.0 * own / theirs : 0.0);
      row += cells;
      any = any || own > 0 || theirs > 0;
    }
    if (any) std::printf("%s\n", row.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "bench_cuda_gemm: no CUDA GPU is present; nothing to measure\n");
    return 1;
  }
  std::map<std::string, double> flops;  // per call, by benchmark name
  for (const Shape& s : kShapes)
    for (Precision p : {Precision::fp32, Precision::tf32})
      for (Impl i : {Impl::own, Impl::cublas}) {
        const std::string name = benchmark_name(s, p, i);
        flops[name] = s.flops();
        benchmark::RegisterBenchmark(name.c_str(), [&s, p, i](benchmark::State& state) { run_benchmark(state, s, p, i); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
  BestTflopsReporter reporter(flops);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter);
  benchmark::Shutdown();
  return 0;
}
