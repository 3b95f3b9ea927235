// CPU conv2d throughput at every distinct convolution shape of torchvision's ResNet-50 (224x224
// input): forward, backward-data and backward-weight, GFLOP/s counted as 2 * multiply-adds.
//   GRAFT_BENCH_BATCH  batch size (default 8)      GRAFT_NUM_THREADS  kernel threads
// Benchmarks are named conv2d/<pass>/<layer>, the layer being the first torchvision module with
// that shape; the label spells the geometry out for bench/torch_cpu_compare.py, which times
// PyTorch on the same shapes:
//   /usr/bin/python3 bench/torch_cpu_compare.py <build>/bench/bench_conv2d
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/resnet50_conv_layers.h"
#include "kernels/conv2d.h"

namespace {

using graft::bench::ConvLayer;
using graft::bench::geometry;
using graft::bench::kResNet50Layers;
using graft::kernels::Conv2dGeometry;

int64_t bench_batch() {
  if (const char* env = std::getenv("GRAFT_BENCH_BATCH")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return n;
  }
  return 8;
}

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& e : v) e = dist(rng);
  return v;
}

enum class Pass { forward, backward_data, backward_weight };

void run_layer(benchmark::State& state, Conv2dGeometry g, Pass pass) {
  namespace cpu = graft::kernels::cpu;
  const int64_t x_size = g.batch * g.in_channels * g.in_h * g.in_w;
  const int64_t y_size = g.batch * g.out_channels * g.out_h() * g.out_w();
  const int64_t w_size = g.out_channels * g.in_channels_per_group() * g.kernel_h * g.kernel_w;
  std::vector<float> x = random_values(x_size, 1), w = random_values(w_size, 2);
  std::vector<float> y = random_values(y_size, 3);  // dy for the backward passes
  // ResNet's convolutions have no bias.
  float* no_bias = nullptr;
  const auto run = [&] {
    switch (pass) {
      case Pass::forward:
        cpu::conv2d_forward(g, x.data(), w.data(), no_bias, y.data());
        break;
      case Pass::backward_data:
        cpu::conv2d_backward_data(g, y.data(), w.data(), x.data());
        break;
      case Pass::backward_weight:
        cpu::conv2d_backward_weight(g, x.data(), y.data(), w.data(), no_bias);
        break;
    }
  };
  run();  // warm-up: buffers, thread pool
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2e-9 * double(g.macs()) * double(state.iterations()), benchmark::Counter::kIsRate);
}

std::string label(const Conv2dGeometry& g) {
  return "in=" + std::to_string(g.in_channels) + "x" + std::to_string(g.in_h) + "x" +
         std::to_string(g.in_w) + " out=" + std::to_string(g.out_channels) +
         " k=" + std::to_string(g.kernel_h) + " s=" + std::to_string(g.stride_h) +
         " p=" + std::to_string(g.pad_h) + " batch=" + std::to_string(g.batch);
}

bool register_all() {
  const int64_t batch = bench_batch();
  const std::pair<Pass, const char*> passes[] = {{Pass::forward, "forward"},
                                                 {Pass::backward_data, "backward_data"},
                                                 {Pass::backward_weight, "backward_weight"}};
  for (const auto& [pass, pass_name] : passes) {
    for (const ConvLayer& layer : kResNet50Layers) {
      const Conv2dGeometry g = geometry(layer, batch);
      const std::string name = std::string("conv2d/") + pass_name + "/" + layer.name;
      const std::string text = label(g);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [g, pass, text](benchmark::State& state) {
                                     state.SetLabel(text);
                                     run_layer(state, g, pass);
                                   })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return true;
}

const bool registered = register_all();

}  // namespace

BENCHMARK_MAIN();
