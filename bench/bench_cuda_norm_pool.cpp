// Batch norm and pooling on the GPU at ResNet-50's sizes (batch 32): graft's kernels and cuDNN's
// batch norm side by side, as bandwidth. These kernels do a few operations per element, so moving
// memory is all they can be judged on.
//   ./bench_cuda_norm_pool              (well under two minutes on an H100)
// Each case is validated once against the CPU twin, then timed with CUDA events and a flushed L2
// (bench/cuda_timing.h). Byte model (float): the compulsory traffic only, each tensor moved once:
//   batch norm forward (train and eval): read x, write y             8 bytes per element
//   batch norm backward (train):         read x and dy, write dx    12 bytes per element
//   max pool forward:  read x, write y and the int64 indices; backward: read dy and indices, write dx
//   adaptive avg pool: read x, write y; backward: read dy, write dx
// (the per-channel vectors are negligible). Training batch norm reads x twice (statistics, then the
// normalization) and its backward reads x and dy twice: under this model it can reach the copy
// bandwidth only where the second read comes from the L2 cache. Counters: GB/s, and of_copy = that
// / the device-to-device copy bandwidth (bench/cuda_copy_bandwidth.h). A markdown table of all runs
// is printed at the end.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench/cuda_copy_bandwidth.h"
#include "bench/cuda_device_array.h"
#include "bench/cuda_timing.h"
#include "benchmark/benchmark.h"
#include "kernels/batch_norm.h"
#include "kernels/pool2d.h"

namespace {

using namespace graft::kernels;
using graft::bench::BandwidthTableReporter;
using graft::bench::check_cuda;
using graft::bench::DeviceArray;
using graft::bench::compare;
using graft::bench::copy_bytes_per_second;
using graft::bench::measure;
using graft::bench::pattern;
using graft::bench::time_on_gpu;

constexpr int kIterations = 20;
constexpr double kEps = 1e-5, kMomentum = 0.1;

// ---- batch norm ----

struct BatchNormShape {
  int64_t n, c, h, w;
  int64_t hw() const { return h * w; }
  int64_t size() const { return n * c * h * w; }
};

// Graft's kernels or cuDNN's.
enum class Impl { graft, cudnn };

// The CPU twin's results on one shape, computed once per shape and reused by every case.
struct BatchNormReference {
  std::vector<float> x, dy, gamma, beta, running_mean, running_var;
  std::vector<float> y_train, save_mean, save_invstd, y_eval, dx, dgamma, dbeta;
};

const BatchNormReference& reference(const BatchNormShape& s) {
  static std::map<std::tuple<int64_t, int64_t, int64_t>, BatchNormReference> cache;
  const auto key = std::make_tuple(s.n, s.c, s.hw());
  if (const auto found = cache.find(key); found != cache.end()) return found->second;
  BatchNormReference r;
  r.x = pattern(s.size(), 1, -2.0f, 3.0f);
  r.dy = pattern(s.size(), 2);
  r.gamma = pattern(s.c, 3, 0.5f, 1.5f);
  r.beta = pattern(s.c, 4);
  r.running_mean = pattern(s.c, 5);
  r.running_var = pattern(s.c, 6, 0.5f, 2.0f);
  r.y_train.resize(s.size());
  r.y_eval.resize(s.size());
  r.dx.resize(s.size());
  r.save_mean.resize(s.c);
  r.save_invstd.resize(s.c);
  r.dgamma.resize(s.c);
  r.dbeta.resize(s.c);
  std::vector<float> rm = r.running_mean, rv = r.running_var;
  cpu::batch_norm_forward_train(r.x.data(), s.n, s.c, s.hw(), r.gamma.data(), r.beta.data(), kEps, kMomentum,
                                rm.data(), rv.data(), r.y_train.data(), r.save_mean.data(), r.save_invstd.data());
  cpu::batch_norm_forward_eval(r.x.data(), s.n, s.c, s.hw(), r.gamma.data(), r.beta.data(), r.running_mean.data(),
                               r.running_var.data(), kEps, r.y_eval.data());
  cpu::batch_norm_backward_train(r.dy.data(), r.x.data(), s.n, s.c, s.hw(), r.gamma.data(), r.save_mean.data(),
                                 r.save_invstd.data(), r.dx.data(), r.dgamma.data(), r.dbeta.data());
  return cache.emplace(key, std::move(r)).first->second;
}

double tolerance(Impl impl) { return impl == Impl::graft ? 1e-5 : 1e-4; }

void run_batch_norm_forward_train(benchmark::State& state, BatchNormShape s, Impl impl) {
  const BatchNormReference& r = reference(s);
  const DeviceArray<float> x(r.x), gamma(r.gamma), beta(r.beta);
  DeviceArray<float> y(s.size()), running_mean(r.running_mean), running_var(r.running_var), save_mean(s.c),
      save_invstd(s.c);
  auto run = [&](cudaStream_t stream) {
    if (impl == Impl::graft) {
      cuda::batch_norm_forward_train(x.get(), s.n, s.c, s.hw(), gamma.get(), beta.get(), kEps, kMomentum,
                                     running_mean.get(), running_var.get(), y.get(), save_mean.get(),
                                     save_invstd.get(), stream);
    } else {
      vendor::batch_norm_forward_train(x.get(), s.n, s.c, s.hw(), gamma.get(), beta.get(), kEps, kMomentum,
                                       running_mean.get(), running_var.get(), y.get(), save_mean.get(),
                                       save_invstd.get(), stream);
    }
  };
  measure(
      state, 8.0 * double(s.size()),
      [&] {
        run(nullptr);
        std::string e = compare(y.download(), r.y_train, tolerance(impl), "y");
        if (e.empty()) e = compare(save_mean.download(), r.save_mean, tolerance(impl), "save_mean");
        if (e.empty()) e = compare(save_invstd.download(), r.save_invstd, tolerance(impl), "save_invstd");
        return e;
      },
      run);
}

void run_batch_norm_forward_eval(benchmark::State& state, BatchNormShape s, Impl impl) {
  const BatchNormReference& r = reference(s);
  const DeviceArray<float> x(r.x), gamma(r.gamma), beta(r.beta), running_mean(r.running_mean),
      running_var(r.running_var);
  DeviceArray<float> y(s.size());
  auto run = [&](cudaStream_t stream) {
    if (impl == Impl::graft) {
      cuda::batch_norm_forward_eval(x.get(), s.n, s.c, s.hw(), gamma.get(), beta.get(), running_mean.get(),
                                    running_var.get(), kEps, y.get(), stream);
    } else {
      vendor::batch_norm_forward_eval(x.get(), s.n, s.c, s.hw(), gamma.get(), beta.get(), running_mean.get(),
                                      running_var.get(), kEps, y.get(), stream);
    }
  };
  measure(
      state, 8.0 * double(s.size()),
      [&] {
        run(nullptr);
        return compare(y.download(), r.y_eval, tolerance(impl), "y");
      },
      run);
}

void run_batch_norm_backward_train(benchmark::State& state, BatchNormShape s, Impl impl) {
  const BatchNormReference& r = reference(s);
  const DeviceArray<float> x(r.x), dy(r.dy), gamma(r.gamma), save_mean(r.save_mean), save_invstd(r.save_invstd);
  DeviceArray<float> dx(s.size()), dgamma(s.c), dbeta(s.c);
  auto run = [&](cudaStream_t stream) {
    if (impl == Impl::graft) {
      cuda::batch_norm_backward_train(dy.get(), x.get(), s.n, s.c, s.hw(), gamma.get(), save_mean.get(),
                                      save_invstd.get(), dx.get(), dgamma.get(), dbeta.get(), stream);
    } else {
      vendor::batch_norm_backward_train(dy.get(), x.get(), s.n, s.c, s.hw(), gamma.get(), save_mean.get(),
                                        save_invstd.get(), dx.get(), dgamma.get(), dbeta.get(), stream);
    }
  };
  measure(
      state, 12.0 * double(s.size()),
      [&] {
        run(nullptr);
        std::string e = compare(dx.download(), r.dx, tolerance(impl), "dx");
        if (e.empty()) e = compare(dgamma.download(), r.dgamma, tolerance(impl), "dgamma");
        if (e.empty()) e = compare(dbeta.download(), r.dbeta, tolerance(impl), "dbeta");
        return e;
      },
      run);
}

// ---- pooling ----

// ResNet's stem: 3x3, stride 2, padding 1 on [32, 64, 112, 112] -> [32, 64, 56, 56].
Pool2dGeometry stem_pool() {
  Pool2dGeometry g;
  g.planes = 32 * 64;
  g.in_h = g.in_w = 112;
  g.out_h = g.out_w = 56;
  g.kernel_h = g.kernel_w = 3;
  g.stride_h = g.stride_w = 2;
  g.pad_h = g.pad_w = 1;
  return g;
}

void BM_MaxPoolStemForward(benchmark::State& state) {
  const Pool2dGeometry g = stem_pool();
  const int64_t inputs = g.planes * g.in_h * g.in_w, outputs = g.planes * g.out_h * g.out_w;
  const auto x_host = pattern(inputs, 7);
  const DeviceArray<float> x(x_host);
  DeviceArray<float> y(outputs);
  DeviceArray<int64_t> indices(outputs);
  measure(
      state, 4.0 * double(inputs) + 12.0 * double(outputs),
      [&] {
        std::vector<float> y_expected(outputs);
        std::vector<int64_t> indices_expected(outputs);
        cpu::max_pool2d_forward(g, x_host.data(), y_expected.data(), indices_expected.data());
        cuda::max_pool2d_forward(g, x.get(), y.get(), indices.get(), nullptr);
        if (indices.download() != indices_expected) return std::string("indices differ");
        return compare(y.download(), y_expected, 0, "y");
      },
      [&](cudaStream_t s) { cuda::max_pool2d_forward(g, x.get(), y.get(), indices.get(), s); });
}

void BM_MaxPoolStemBackward(benchmark::State& state) {
  const Pool2dGeometry g = stem_pool();
  const int64_t inputs = g.planes * g.in_h * g.in_w, outputs = g.planes * g.out_h * g.out_w;
  const auto x_host = pattern(inputs, 8), dy_host = pattern(outputs, 9);
  std::vector<float> y_host(outputs);
  std::vector<int64_t> indices_host(outputs);
  cpu::max_pool2d_forward(g, x_host.data(), y_host.data(), indices_host.data());
  const DeviceArray<float> dy(dy_host);
  const DeviceArray<int64_t> indices(indices_host);
  DeviceArray<float> dx(inputs);
  measure(
      state, 4.0 * double(inputs) + 12.0 * double(outputs),
      [&] {
        std::vector<float> expected(inputs);
        cpu::max_pool2d_backward(g, dy_host.data(), indices_host.data(), expected.data());
        cuda::max_pool2d_backward(g, dy.get(), indices.get(), dx.get(), nullptr);
        return compare(dx.download(), expected, 0, "dx");
      },
      [&](cudaStream_t s) { cuda::max_pool2d_backward(g, dy.get(), indices.get(), dx.get(), s); });
}

// ResNet-50's global average pooling: [32, 2048, 7, 7] -> [32, 2048, 1, 1].
void run_global_avg_pool(benchmark::State& state, bool backward) {
  const int64_t planes = 32 * 2048, inputs = planes * 49, outputs = planes;
  const auto in_host = pattern(backward ? outputs : inputs, 10);
  const DeviceArray<float> in(in_host);
  DeviceArray<float> out(backward ? inputs : outputs);
  auto run = [&](cudaStream_t s) {
    if (backward) {
      cuda::adaptive_avg_pool2d_backward(planes, 7, 7, 1, 1, in.get(), out.get(), s);
    } else {
      cuda::adaptive_avg_pool2d_forward(planes, 7, 7, 1, 1, in.get(), out.get(), s);
    }
  };
  measure(
      state, 4.0 * double(inputs + outputs),
      [&] {
        std::vector<float> expected(backward ? inputs : outputs);
        if (backward) {
          cpu::adaptive_avg_pool2d_backward(planes, 7, 7, 1, 1, in_host.data(), expected.data());
        } else {
          cpu::adaptive_avg_pool2d_forward(planes, 7, 7, 1, 1, in_host.data(), expected.data());
        }
        run(nullptr);
        return compare(out.download(), expected, 2.4e-7, backward ? "dx" : "y");
      },
      run);
}

void BM_GlobalAvgPoolForward(benchmark::State& state) { run_global_avg_pool(state, false); }
void BM_GlobalAvgPoolBackward(benchmark::State& state) { run_global_avg_pool(state, true); }

void register_benchmarks() {
  const BatchNormShape shapes[] = {{32, 64, 112, 112}, {32, 256, 56, 56}, {32, 512, 28, 28}, {32, 2048, 7, 7}};
  using Runner = void (*)(benchmark::State&, BatchNormShape, Impl);
  const std::pair<const char*, Runner> passes[] = {{"BatchNormForwardTrain", run_batch_norm_forward_train},
                                                   {"BatchNormForwardEval", run_batch_norm_forward_eval},
                                                   {"BatchNormBackwardTrain", run_batch_norm_backward_train}};
  for (const auto& [pass, runner] : passes)
    for (const BatchNormShape& s : shapes)
      for (Impl impl : {Impl::graft, Impl::cudnn}) {
        const std::string name = std::string(pass) + "/" + (impl == Impl::graft ? "graft" : "cudnn") + "/" +
                                 std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.h) + "x" +
                                 std::to_string(s.w);
        benchmark::RegisterBenchmark(name.c_str(), runner, s, impl)
            ->Iterations(kIterations)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
  using Pooling = void (*)(benchmark::State&);
  const std::pair<const char*, Pooling> pooling[] = {{"MaxPool3x3s2/forward/32x64x112x112", BM_MaxPoolStemForward},
                                                     {"MaxPool3x3s2/backward/32x64x112x112", BM_MaxPoolStemBackward},
                                                     {"GlobalAvgPool/forward/32x2048x7x7", BM_GlobalAvgPoolForward},
                                                     {"GlobalAvgPool/backward/32x2048x7x7", BM_GlobalAvgPoolBackward}};
  for (const auto& [name, fn] : pooling)
    benchmark::RegisterBenchmark(name, fn)->Iterations(kIterations)->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "bench_cuda_norm_pool: no CUDA GPU is present\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_benchmarks();
  BandwidthTableReporter reporter("Batch norm and pooling: bandwidth, own kernels and cuDNN");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
