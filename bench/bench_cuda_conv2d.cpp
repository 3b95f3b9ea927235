// The hand-written CUDA convolutions against cuDNN (FP32 on the CUDA cores, no TF32) at every
// distinct convolution shape of ResNet-50 (bench/resnet50_conv_layers.h), for the forward pass,
// the data gradient and the weight gradient. Before the own kernel is timed on a shape it is
// checked against cuDNN on that shape (the run stops with a message if they differ); then every
// call is timed with CUDA events after an L2 flush (bench/cuda_timing.h). The counter TFLOP/s
// counts 2 * multiply-adds per call (the same for the three passes). At the end, one markdown table
// per pass gives own and cuDNN TFLOP/s and their ratio per layer, and the geometric mean of the
// ratios.
//   GRAFT_BENCH_BATCH  batch size (default 32)
//   ./bench_cuda_conv2d                                  (everything: about two minutes on an H100)
//   ./bench_cuda_conv2d --benchmark_filter='forward'     (a subset; the tables cover what ran)
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
#include "bench/resnet50_conv_layers.h"
#include "benchmark/benchmark.h"
#include "kernels/conv2d.h"

namespace {

using graft::bench::absolute_pattern;
using graft::bench::BestTflopsReporter;
using graft::bench::check_cuda;
using graft::bench::DeviceArray;
using graft::bench::random_pattern;
using graft::bench::ConvLayer;
using graft::bench::kResNet50Layers;
using graft::kernels::Conv2dGeometry;
namespace cuda = graft::kernels::cuda;
namespace vendor = graft::kernels::vendor;

enum class Pass { forward, backward_data, backward_weight };
enum class Impl { own, cudnn };
constexpr Pass kPasses[] = {Pass::forward, Pass::backward_data, Pass::backward_weight};

const char* name_of(Pass p) {
  switch (p) {
    case Pass::forward: return "forward";
    case Pass::backward_data: return "backward_data";
    case Pass::backward_weight: return "backward_weight";
  }
  return "";
}
const char* name_of(Impl i) { return i == Impl::own ? "own" : "cudnn"; }

int64_t bench_batch() {
  if (const char* env = std::getenv("GRAFT_BENCH_BATCH")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return n;
  }
  return 32;
}

int64_t x_size(const Conv2dGeometry& g) { return g.batch * g.in_channels * g.in_h * g.in_w; }
int64_t y_size(const Conv2dGeometry& g) { return g.batch * g.out_channels * g.out_h() * g.out_w(); }
int64_t w_size(const Conv2dGeometry& g) { return g.out_channels * g.in_channels_per_group() * g.kernel_h * g.kernel_w; }

// The tensors of one layer: x, w and dy are inputs; the pass writes y, dx or dw.
struct Tensors {
  Conv2dGeometry g;
  DeviceArray<float> x, w, y;  // y doubles as dy (the backward passes read it, the forward writes it)
  DeviceArray<float> out;      // what a backward pass writes: dx or dw
  Tensors(const Conv2dGeometry& g_, Pass pass, const std::vector<float>& pattern)
      : g(g_), x(x_size(g_)), w(w_size(g_)), y(y_size(g_)),
        out(pass == Pass::backward_data ? x_size(g_) : pass == Pass::backward_weight ? w_size(g_) : 0) {
    x.fill(pattern);
    w.fill(pattern);
    if (pass != Pass::forward) y.fill(pattern);
  }

  // Runs the pass, writing its result to `result`.
  void run(Pass pass, Impl impl, float* result, cudaStream_t stream) const {
    const bool own = impl == Impl::own;
    switch (pass) {
      case Pass::forward:
        (own ? cuda::conv2d_forward : vendor::conv2d_forward)(g, x.get(), w.get(), nullptr, result, stream);
        break;
      case Pass::backward_data:
        (own ? cuda::conv2d_backward_data : vendor::conv2d_backward_data)(g, y.get(), w.get(), result, stream);
        break;
      case Pass::backward_weight:
        (own ? cuda::conv2d_backward_weight : vendor::conv2d_backward_weight)(g, x.get(), y.get(), result, nullptr,
                                                                              stream);
        break;
    }
  }
  float* result(Pass pass) const { return pass == Pass::forward ? y.get() : out.get(); }
  int64_t result_size(Pass pass) const {
    return pass == Pass::forward ? y_size(g) : pass == Pass::backward_data ? x_size(g) : w_size(g);
  }
  // Products summed into one element of the pass's result.
  int64_t terms(Pass pass) const {
    switch (pass) {
      case Pass::forward: return g.in_channels_per_group() * g.kernel_h * g.kernel_w;
      case Pass::backward_data: return g.out_channels_per_group() * g.kernel_h * g.kernel_w;
      case Pass::backward_weight: return g.batch * g.out_h() * g.out_w();
    }
    return 1;
  }
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_cuda_conv2d: %s\n", what.c_str());
  std::exit(1);
}

// Stops the run unless the own kernel agrees with cuDNN: every element within
// 2 * 4 * terms * eps(float) * S, S the same pass over the absolute values of the inputs.
void validate(const Tensors& t, Pass pass, const std::string& label) {
  const int64_t n = t.result_size(pass);
  DeviceArray<float> reference(n);
  t.run(pass, Impl::own, t.result(pass), nullptr);
  t.run(pass, Impl::cudnn, reference.get(), nullptr);
  check_cuda(cudaDeviceSynchronize(), "the validation runs");
  std::vector<float> own(n);
  check_cuda(cudaMemcpy(own.data(), t.result(pass), n * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  const std::vector<float> want = reference.download();
  std::vector<float> bound;
  {
    const Tensors magnitudes(t.g, pass, absolute_pattern());
    DeviceArray<float> scale(n);
    magnitudes.run(pass, Impl::cudnn, scale.get(), nullptr);
    check_cuda(cudaDeviceSynchronize(), "the validation runs");
    bound = scale.download();
  }
  const double tol = 2.0 * 4.0 * double(t.terms(pass)) * std::numeric_limits<float>::epsilon();
  for (int64_t e = 0; e < n; ++e)
    if (!(std::abs(double(own[e]) - double(want[e])) <= tol * bound[e] + std::numeric_limits<float>::min()))
      fail("own " + std::string(name_of(pass)) + " differs from cuDNN on " + label + " at element " +
           std::to_string(e) + ": " + std::to_string(own[e]) + " vs " + std::to_string(want[e]) +
           "; not timing a wrong kernel");
}

void run_benchmark(benchmark::State& state, const ConvLayer& layer, int64_t batch, Pass pass, Impl impl) {
  const std::string label = std::string(name_of(pass)) + " " + name_of(impl) + " " + layer.name;
  try {
    const Tensors t(graft::bench::geometry(layer, batch), pass, random_pattern());
    if (impl == Impl::own) validate(t, pass, layer.name);
    graft::bench::time_on_gpu(state, [&](cudaStream_t stream) { t.run(pass, impl, t.result(pass), stream); });
    state.counters["TFLOP/s"] =
        benchmark::Counter(2e-12 * double(t.g.macs()), benchmark::Counter::kIsIterationInvariantRate);
  } catch (const std::exception& e) {
    fail(label + ": " + e.what());
  }
}

std::string benchmark_name(const ConvLayer& layer, Pass p, Impl i) {
  return std::string("conv2d/") + name_of(p) + "/" + name_of(i) + "/" + layer.name;
}

void print_summary(const BestTflopsReporter& reporter, int64_t batch) {
  cudaDeviceProp props{};
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaGetDeviceProperties(&props, device), "cudaGetDeviceProperties");
  for (Pass pass : kPasses) {
    std::string rows;
    double log_sum = 0.0;
    int count = 0;
    for (const ConvLayer& layer : kResNet50Layers) {
      const double own = reporter.best(benchmark_name(layer, pass, Impl::own));
      const double theirs = reporter.best(benchmark_name(layer, pass, Impl::cudnn));
      if (own <= 0 || theirs <= 0) continue;
      char row[256];
      std::snprintf(row, sizeof row, "| %s | %lldx%lldx%lld -> %lld, %lldx%lld, stride %lld | %.1f | %.1f | %.0f%% |\n",
                    layer.name, static_cast<long long>(layer.in_channels), static_cast<long long>(layer.in_size),
                    static_cast<long long>(layer.in_size), static_cast<long long>(layer.out_channels),
                    static_cast<long long>(layer.kernel), static_cast<long long>(layer.kernel),
                    static_cast<long long>(layer.stride), own, theirs, 100.0 * own / theirs);
      rows += row;
      log_sum += std::log(own / theirs);
      ++count;
    }
    if (count == 0) continue;
    std::printf("\n### conv2d %s: own kernels vs cuDNN (FP32, no TF32) on %s, batch %lld (TFLOP/s, best run)\n\n",
                name_of(pass), props.name, static_cast<long long>(batch));
    std::printf("| layer | input -> output channels, kernel, stride | own | cuDNN | own / cuDNN |\n");
    std::printf("|---|---|---|---|---|\n%s", rows.c_str());
    std::printf("\nGeometric mean of own / cuDNN over %d layers: %.0f%%\n", count, 100.0 * std::exp(log_sum / count));
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "bench_cuda_conv2d: no CUDA GPU is present; nothing to measure\n");
    return 1;
  }
  const int64_t batch = bench_batch();
  std::map<std::string, double> flops;  // per call, by benchmark name
  for (Pass p : kPasses)
    for (const ConvLayer& layer : kResNet50Layers)
      for (Impl i : {Impl::own, Impl::cudnn}) {
        const std::string name = benchmark_name(layer, p, i);
        flops[name] = 2.0 * double(graft::bench::geometry(layer, batch).macs());
        benchmark::RegisterBenchmark(name.c_str(), [&layer, batch, p, i](benchmark::State& state) {
          run_benchmark(state, layer, batch, p, i);
        })
            ->UseManualTime()
            ->MinTime(0.1)
            ->Unit(benchmark::kMillisecond);
      }
  BestTflopsReporter reporter(flops);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter, batch);
  benchmark::Shutdown();
  return 0;
}
