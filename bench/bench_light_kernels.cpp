// Bandwidth of the light CPU kernels at ResNet-like sizes, at 1 and 2 threads (the argument).
// bytes_per_second counts the compulsory traffic: each input read once, each output written once
// (batch norm's statistics passes re-read x from cache, which is not counted).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/batch_norm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/elementwise.h"
#include "kernels/pool2d.h"
#include "kernels/reduce.h"

namespace {

using namespace graft::kernels;

// Activation of ResNet's first stage at batch 32: [32, 64, 56, 56], 6.4M floats (25.7 MB).
constexpr int64_t kN = 32, kC = 64, kH = 56, kW = 56;
constexpr int64_t kHW = kH * kW, kElements = kN * kC * kHW;

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Sets the kernel thread count from the benchmark argument for one run.
class Threads {
 public:
  explicit Threads(const benchmark::State& state) : saved_(cpu::num_threads()) {
    cpu::set_num_threads(int(state.range(0)));
  }
  ~Threads() { cpu::set_num_threads(saved_); }

 private:
  int saved_;
};

void set_bytes(benchmark::State& state, int64_t bytes_per_iteration) {
  state.SetBytesProcessed(int64_t(state.iterations()) * bytes_per_iteration);
}

void BM_ReluForward(benchmark::State& state) {
  Threads threads(state);
  const auto x = random_floats(kElements, 1);
  std::vector<float> y(kElements);
  for (auto _ : state) {
    cpu::relu_forward(x.data(), kElements, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2 * kElements * sizeof(float));
}

// a + b over [N, C, H, W] with b of shape b_shape (1 on broadcast dims).
void run_add(benchmark::State& state, const std::vector<int64_t>& b_shape) {
  Threads threads(state);
  const std::vector<int64_t> shape = {kN, kC, kH, kW};
  const std::vector<int64_t> a_strides = {kC * kHW, kHW, kW, 1};
  std::vector<int64_t> b_strides(4, 0);
  int64_t b_size = 1;
  for (int d = 3; d >= 0; --d) {
    b_strides[d] = b_shape[d] == 1 ? 0 : b_size;
    b_size *= b_shape[d];
  }
  const auto a = random_floats(kElements, 2);
  const auto b = random_floats(b_size, 3);
  std::vector<float> out(kElements);
  for (auto _ : state) {
    cpu::binary_broadcast(cpu::BinaryOp::add, 4, shape.data(), a.data(), a_strides.data(), b.data(),
                          b_strides.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, (2 * kElements + b_size) * sizeof(float));
}

void BM_AddSameShape(benchmark::State& state) { run_add(state, {kN, kC, kH, kW}); }
void BM_AddPerChannel(benchmark::State& state) { run_add(state, {1, kC, 1, 1}); }
void BM_AddScalar(benchmark::State& state) { run_add(state, {1, 1, 1, 1}); }
// Broadcast along the batch: a generic 3-d walk after coalescing.
void BM_AddBatchBroadcast(benchmark::State& state) { run_add(state, {1, kC, kH, kW}); }

void BM_BatchNormForwardTrain(benchmark::State& state) {
  Threads threads(state);
  const auto x = random_floats(kElements, 4);
  const std::vector<float> gamma(kC, 1.5f), beta(kC, 0.25f);
  std::vector<float> y(kElements), running_mean(kC, 0.0f), running_var(kC, 1.0f), save_mean(kC), save_invstd(kC);
  for (auto _ : state) {
    cpu::batch_norm_forward_train(x.data(), kN, kC, kHW, gamma.data(), beta.data(), 1e-5, 0.1, running_mean.data(),
                                  running_var.data(), y.data(), save_mean.data(), save_invstd.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2 * kElements * sizeof(float));
}

void BM_BatchNormBackwardTrain(benchmark::State& state) {
  Threads threads(state);
  const auto x = random_floats(kElements, 5);
  const auto dy = random_floats(kElements, 6);
  const std::vector<float> gamma(kC, 1.5f), save_mean(kC, 0.01f), save_invstd(kC, 1.7f);
  std::vector<float> dx(kElements), dgamma(kC), dbeta(kC);
  for (auto _ : state) {
    cpu::batch_norm_backward_train(dy.data(), x.data(), kN, kC, kHW, gamma.data(), save_mean.data(),
                                   save_invstd.data(), dx.data(), dgamma.data(), dbeta.data());
    benchmark::DoNotOptimize(dx.data());
  }
  set_bytes(state, 3 * kElements * sizeof(float));
}

// ResNet's stem pool: 3x3, stride 2, padding 1 on [8, 64, 112, 112] (as many inputs as above).
void BM_MaxPool3x3Stride2(benchmark::State& state) {
  Threads threads(state);
  Pool2dGeometry g;
  g.planes = 8 * 64;
  g.in_h = g.in_w = 112;
  g.out_h = g.out_w = 56;
  g.kernel_h = g.kernel_w = 3;
  g.stride_h = g.stride_w = 2;
  g.pad_h = g.pad_w = 1;
  const int64_t in = g.planes * g.in_h * g.in_w, out = g.planes * g.out_h * g.out_w;
  const auto x = random_floats(in, 7);
  std::vector<float> y(out);
  std::vector<int64_t> indices(out);
  for (auto _ : state) {
    cpu::max_pool2d_forward(g, x.data(), y.data(), indices.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, in * sizeof(float) + out * (sizeof(float) + sizeof(int64_t)));
}

void run_sum(benchmark::State& state, int64_t outer, int64_t reduce, int64_t inner) {
  Threads threads(state);
  const auto x = random_floats(outer * reduce * inner, 8);
  std::vector<float> out(outer * inner);
  for (auto _ : state) {
    cpu::sum_reduce(x.data(), outer, reduce, inner, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, (outer * reduce * inner + outer * inner) * sizeof(float));
}

// Per-plane sums ([N*C, H*W]), the batch axis ([1, N, C*H*W]) and everything into one number.
void BM_SumPlanes(benchmark::State& state) { run_sum(state, kN * kC, kHW, 1); }
void BM_SumBatch(benchmark::State& state) { run_sum(state, 1, kN, kC * kHW); }
void BM_SumAll(benchmark::State& state) { run_sum(state, 1, kElements, 1); }

#define GRAFT_BENCH(fn) BENCHMARK(fn)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()
GRAFT_BENCH(BM_ReluForward);
GRAFT_BENCH(BM_AddSameShape);
GRAFT_BENCH(BM_AddPerChannel);
GRAFT_BENCH(BM_AddScalar);
GRAFT_BENCH(BM_AddBatchBroadcast);
GRAFT_BENCH(BM_BatchNormForwardTrain);
GRAFT_BENCH(BM_BatchNormBackwardTrain);
GRAFT_BENCH(BM_MaxPool3x3Stride2);
GRAFT_BENCH(BM_SumPlanes);
GRAFT_BENCH(BM_SumBatch);
GRAFT_BENCH(BM_SumAll);

}  // namespace

BENCHMARK_MAIN();
