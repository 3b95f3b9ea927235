// Bandwidth of the light CUDA kernels (elementwise, reductions, softmax, optimizer updates) at
// large sizes, as a fraction of the measured device-to-device copy bandwidth: these kernels do a
// handful of operations per element, so moving memory is all they can be judged on.
//   ./bench_cuda_light                 (about a minute on an H100)
// BM_CopyDeviceToDevice comes first: cudaMemcpyAsync of a 256 MiB buffer, bytes read + written per
// second. Every kernel is then validated once against its CPU twin at the benchmark size, and
// timed with CUDA events and a flushed L2 (bench/cuda_timing.h). Counters: GB/s = compulsory bytes
// (each input read once, each output written once) per second; of_copy = that / copy bandwidth.
// A markdown table of all of them is printed at the end. Target: >= 0.8 of copy for the
// elementwise kernels and the reductions.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/cuda_copy_bandwidth.h"
#include "bench/cuda_device_array.h"
#include "bench/cuda_timing.h"
#include "benchmark/benchmark.h"
#include "kernels/elementwise.h"
#include "kernels/optim.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

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

constexpr int64_t kN = int64_t{64} << 20;  // elements per buffer: 256 MiB of floats
constexpr int kIterations = 20;

#define GRAFT_BENCH(fn) BENCHMARK(fn)->Iterations(kIterations)->UseManualTime()->Unit(benchmark::kMillisecond)

void BM_CopyDeviceToDevice(benchmark::State& state) {
  const int64_t n = kN;  // 256 MiB of floats
  const DeviceArray<float> src(pattern(n, 1));
  DeviceArray<float> dst(n);
  measure(
      state, 2.0 * n * sizeof(float), [&] { return std::string(); },
      [&](cudaStream_t s) {
        check_cuda(cudaMemcpyAsync(dst.get(), src.get(), n * sizeof(float), cudaMemcpyDeviceToDevice, s), "copy");
      });
}
GRAFT_BENCH(BM_CopyDeviceToDevice);

// ---- elementwise ----

void BM_Fill(benchmark::State& state) {
  DeviceArray<float> x(kN);
  measure(
      state, 4.0 * kN,
      [&] {
        cuda::fill(x.get(), kN, 0.5f, nullptr);
        return compare(x.download(), std::vector<float>(kN, 0.5f), 0);
      },
      [&](cudaStream_t s) { cuda::fill(x.get(), kN, 0.5f, s); });
}
GRAFT_BENCH(BM_Fill);

void BM_ReluForward(benchmark::State& state) {
  const auto x_host = pattern(kN, 2);
  const DeviceArray<float> x(x_host);
  DeviceArray<float> y(kN);
  measure(
      state, 8.0 * kN,
      [&] {
        std::vector<float> expected(kN);
        cpu::relu_forward(x_host.data(), kN, expected.data());
        cuda::relu_forward(x.get(), kN, y.get(), nullptr);
        return compare(y.download(), expected, 0);
      },
      [&](cudaStream_t s) { cuda::relu_forward(x.get(), kN, y.get(), s); });
}
GRAFT_BENCH(BM_ReluForward);

void BM_ReluBackward(benchmark::State& state) {
  const auto dy_host = pattern(kN, 3), y_host = pattern(kN, 4);
  const DeviceArray<float> dy(dy_host), y(y_host);
  DeviceArray<float> dx(kN);
  measure(
      state, 12.0 * kN,
      [&] {
        std::vector<float> expected(kN);
        cpu::relu_backward(dy_host.data(), y_host.data(), kN, expected.data());
        cuda::relu_backward(dy.get(), y.get(), kN, dx.get(), nullptr);
        return compare(dx.download(), expected, 0);
      },
      [&](cudaStream_t s) { cuda::relu_backward(dy.get(), y.get(), kN, dx.get(), s); });
}
GRAFT_BENCH(BM_ReluBackward);

void BM_DropoutMaskedScale(benchmark::State& state) {
  const auto x_host = pattern(kN, 5), draw = pattern(kN, 6, 0.0f, 1.0f);
  std::vector<uint8_t> mask_host(kN);
  for (int64_t i = 0; i < kN; ++i) mask_host[i] = draw[i] >= 0.3f;
  const DeviceArray<float> x(x_host);
  const DeviceArray<uint8_t> mask(mask_host);
  DeviceArray<float> y(kN);
  const float scale = 1.0f / 0.7f;
  measure(
      state, 9.0 * kN,
      [&] {
        std::vector<float> expected(kN);
        cpu::masked_scale(x_host.data(), mask_host.data(), scale, kN, expected.data());
        cuda::masked_scale(x.get(), mask.get(), scale, kN, y.get(), nullptr);
        return compare(y.download(), expected, 0);
      },
      [&](cudaStream_t s) { cuda::masked_scale(x.get(), mask.get(), scale, kN, y.get(), s); });
}
GRAFT_BENCH(BM_DropoutMaskedScale);

void BM_Axpy(benchmark::State& state) {
  const auto x_host = pattern(kN, 7), y_host = pattern(kN, 8);
  const DeviceArray<float> x(x_host);
  DeviceArray<float> y(y_host);
  measure(
      state, 12.0 * kN,
      [&] {
        std::vector<float> expected = y_host;
        cpu::axpy(kN, 0.5f, x_host.data(), expected.data());
        cuda::axpy(kN, 0.5f, x.get(), y.get(), nullptr);
        return compare(y.download(), expected, 1e-6);
      },
      [&](cudaStream_t s) { cuda::axpy(kN, 0.5f, x.get(), y.get(), s); });
}
GRAFT_BENCH(BM_Axpy);

// a + b over `shape` (kN elements), b of b_shape (1 on broadcast dims), a contiguous.
void run_add(benchmark::State& state, const std::vector<int64_t>& shape, const std::vector<int64_t>& b_shape) {
  const int ndim = int(shape.size());
  std::vector<int64_t> a_strides(ndim), b_strides(ndim);
  int64_t a_size = 1, b_size = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    a_strides[d] = a_size;
    a_size *= shape[d];
    b_strides[d] = b_shape[d] == 1 ? 0 : b_size;
    b_size *= b_shape[d];
  }
  const auto a_host = pattern(a_size, 9), b_host = pattern(b_size, 10);
  const DeviceArray<float> a(a_host), b(b_host);
  DeviceArray<float> out(a_size);
  auto add = [&](cudaStream_t s) {
    cuda::binary_broadcast(cpu::BinaryOp::add, ndim, shape.data(), a.get(), a_strides.data(), b.get(), b_strides.data(),
                           out.get(), s);
  };
  measure(
      state, 4.0 * (2 * a_size + b_size),
      [&] {
        std::vector<float> expected(a_size);
        cpu::binary_broadcast(cpu::BinaryOp::add, ndim, shape.data(), a_host.data(), a_strides.data(), b_host.data(),
                              b_strides.data(), expected.data());
        add(nullptr);
        return compare(out.download(), expected, 0);
      },
      add);
}

// [256, 64, 64, 64]: kN elements, NCHW.
void BM_AddSameShape(benchmark::State& state) { run_add(state, {256, 64, 64, 64}, {256, 64, 64, 64}); }
void BM_AddScalar(benchmark::State& state) { run_add(state, {256, 64, 64, 64}, {1, 1, 1, 1}); }
void BM_AddPerChannel(benchmark::State& state) { run_add(state, {256, 64, 64, 64}, {1, 64, 1, 1}); }
void BM_AddBatchBroadcast(benchmark::State& state) { run_add(state, {256, 64, 64, 64}, {1, 64, 64, 64}); }
void BM_AddMiddleDimBroadcast(benchmark::State& state) { run_add(state, {4096, 16, 1024}, {4096, 1, 1024}); }
GRAFT_BENCH(BM_AddSameShape);
GRAFT_BENCH(BM_AddScalar);
GRAFT_BENCH(BM_AddPerChannel);
GRAFT_BENCH(BM_AddBatchBroadcast);
GRAFT_BENCH(BM_AddMiddleDimBroadcast);

// ---- reductions ----

void run_sum(benchmark::State& state, int64_t outer, int64_t reduce, int64_t inner) {
  const int64_t n = outer * reduce * inner, outputs = outer * inner;
  const auto x_host = pattern(n, 11);
  const DeviceArray<float> x(x_host);
  DeviceArray<float> out(outputs);
  measure(
      state, 4.0 * (n + outputs),
      [&] {
        std::vector<float> expected(outputs);
        cpu::sum_reduce(x_host.data(), outer, reduce, inner, expected.data());
        cuda::sum_reduce(x.get(), outer, reduce, inner, out.get(), nullptr);
        // Double sums in two orders; each float result within a rounding, plus the double error.
        return compare(out.download(), expected, 1e-6);
      },
      [&](cudaStream_t s) { cuda::sum_reduce(x.get(), outer, reduce, inner, out.get(), s); });
}

void BM_SumAll(benchmark::State& state) { run_sum(state, 1, kN, 1); }                 // split runs
void BM_SumRows4096(benchmark::State& state) { run_sum(state, kN / 4096, 4096, 1); }  // block per run
void BM_SumRows128(benchmark::State& state) { run_sum(state, kN / 128, 128, 1); }     // warp per run
void BM_SumBatchAxis(benchmark::State& state) { run_sum(state, 1, 256, kN / 256); }   // thread per column
void BM_SumColumns64(benchmark::State& state) { run_sum(state, 1, kN / 64, 64); }     // split column tiles
void BM_SumPlanesNCHW(benchmark::State& state) { run_sum(state, 256, 64, 64 * 64); }  // over channels
GRAFT_BENCH(BM_SumAll);
GRAFT_BENCH(BM_SumRows4096);
GRAFT_BENCH(BM_SumRows128);
GRAFT_BENCH(BM_SumBatchAxis);
GRAFT_BENCH(BM_SumColumns64);
GRAFT_BENCH(BM_SumPlanesNCHW);

// ---- softmax and cross entropy ----

void run_log_softmax(benchmark::State& state, int64_t outer, int64_t dim, int64_t inner, bool backward) {
  const int64_t n = outer * dim * inner;
  const auto x_host = pattern(n, 12, -8.0f, 8.0f), dy_host = pattern(n, 13);
  std::vector<float> y_host(n);
  cpu::log_softmax_forward(x_host.data(), outer, dim, inner, y_host.data());
  const DeviceArray<float> x(x_host), dy(dy_host), y_in(y_host);
  DeviceArray<float> out(n);
  auto run = [&](cudaStream_t s) {
    if (backward) {
      cuda::log_softmax_backward(dy.get(), y_in.get(), outer, dim, inner, out.get(), s);
    } else {
      cuda::log_softmax_forward(x.get(), outer, dim, inner, out.get(), s);
    }
  };
  measure(
      state, (backward ? 12.0 : 8.0) * n,
      [&] {
        std::vector<float> expected = y_host;
        if (backward) cpu::log_softmax_backward(dy_host.data(), y_host.data(), outer, dim, inner, expected.data());
        run(nullptr);
        return compare(out.download(), expected, 2e-6);
      },
      run);
}

void BM_LogSoftmaxRows1000(benchmark::State& state) { run_log_softmax(state, kN / 1000, 1000, 1, false); }
void BM_LogSoftmaxRows32768(benchmark::State& state) { run_log_softmax(state, kN / 32768, 32768, 1, false); }
void BM_LogSoftmaxMiddleAxis(benchmark::State& state) { run_log_softmax(state, 64, 1000, 1024, false); }
void BM_LogSoftmaxBackwardRows1000(benchmark::State& state) { run_log_softmax(state, kN / 1000, 1000, 1, true); }
GRAFT_BENCH(BM_LogSoftmaxRows1000);
GRAFT_BENCH(BM_LogSoftmaxRows32768);
GRAFT_BENCH(BM_LogSoftmaxMiddleAxis);
GRAFT_BENCH(BM_LogSoftmaxBackwardRows1000);

// ImageNet-sized classification: 16384 samples x 1000 classes, label smoothing 0.1, some ignored.
void run_cross_entropy(benchmark::State& state, bool backward) {
  const int64_t n = 16384, c = 1000, ignore_index = -100;
  const double smoothing = 0.1;
  const auto logits_host = pattern(n * c, 14, -8.0f, 8.0f), dloss_host = pattern(n, 15, 0.0f, 1.0f);
  std::vector<int64_t> target_host(n);
  for (int64_t i = 0; i < n; ++i) target_host[i] = i % 17 == 0 ? ignore_index : (i * 7919) % c;
  std::vector<float> log_probs_host(n * c), loss_host(n), dlogits_host(n * c);
  cpu::cross_entropy_forward(logits_host.data(), target_host.data(), n, c, ignore_index, smoothing,
                             log_probs_host.data(), loss_host.data());
  cpu::cross_entropy_backward(log_probs_host.data(), target_host.data(), n, c, ignore_index, smoothing,
                              dloss_host.data(), dlogits_host.data());
  const DeviceArray<float> logits(logits_host), dloss(dloss_host), log_probs_in(log_probs_host);
  const DeviceArray<int64_t> target(target_host);
  DeviceArray<float> log_probs(n * c), loss(n), dlogits(n * c);
  DeviceArray<int64_t> count(1);
  auto run = [&](cudaStream_t s) {
    if (backward) {
      cuda::cross_entropy_backward(log_probs_in.get(), target.get(), n, c, ignore_index, smoothing, dloss.get(),
                                   dlogits.get(), s);
    } else {
      cuda::cross_entropy_forward(logits.get(), target.get(), n, c, ignore_index, smoothing, log_probs.get(),
                                  loss.get(), count.get(), s);
    }
  };
  measure(
      state, 8.0 * n * c + 16.0 * n,
      [&] {
        run(nullptr);
        if (backward) return compare(dlogits.download(), dlogits_host, 2e-6);
        if (std::string e = compare(log_probs.download(), log_probs_host, 2e-6); !e.empty()) return e;
        return compare(loss.download(), loss_host, 2e-6);
      },
      run);
}

void BM_CrossEntropyForward(benchmark::State& state) { run_cross_entropy(state, false); }
void BM_CrossEntropyBackward(benchmark::State& state) { run_cross_entropy(state, true); }
GRAFT_BENCH(BM_CrossEntropyForward);
GRAFT_BENCH(BM_CrossEntropyBackward);

// ---- optimizer updates ----

void BM_SgdMomentum(benchmark::State& state) {
  const cpu::SgdHyperparameters h{.lr = 0.01, .weight_decay = 1e-4, .momentum = 0.9};
  auto param_host = pattern(kN, 16), buffer_host = pattern(kN, 17);
  const auto grad_host = pattern(kN, 18);
  DeviceArray<float> param(param_host), buffer(buffer_host);
  const DeviceArray<float> grad(grad_host);
  measure(
      state, 20.0 * kN,
      [&] {
        cpu::sgd_update(kN, param_host.data(), grad_host.data(), buffer_host.data(), false, h);
        cuda::sgd_update(kN, param.get(), grad.get(), buffer.get(), false, h, nullptr);
        if (std::string e = compare(param.download(), param_host, 0); !e.empty()) return e;
        return compare(buffer.download(), buffer_host, 0);
      },
      [&](cudaStream_t s) { cuda::sgd_update(kN, param.get(), grad.get(), buffer.get(), false, h, s); });
}
GRAFT_BENCH(BM_SgdMomentum);

const cpu::AdamHyperparameters kAdamW{.lr = 1e-3, .weight_decay = 0.01, .decoupled_weight_decay = true};

void BM_AdamW(benchmark::State& state) {
  auto param_host = pattern(kN, 19), m_host = pattern(kN, 20, -0.1f, 0.1f), v_host = pattern(kN, 21, 0.0f, 0.01f);
  const auto grad_host = pattern(kN, 22);
  DeviceArray<float> param(param_host), m(m_host), v(v_host);
  const DeviceArray<float> grad(grad_host);
  measure(
      state, 28.0 * kN,
      [&] {
        cpu::adam_update<float>(kN, param_host.data(), grad_host.data(), m_host.data(), v_host.data(), nullptr, 3,
                                kAdamW);
        cuda::adam_update<float>(kN, param.get(), grad.get(), m.get(), v.get(), nullptr, 3, kAdamW, nullptr);
        return compare(param.download(), param_host, 0);
      },
      [&](cudaStream_t s) {
        cuda::adam_update<float>(kN, param.get(), grad.get(), m.get(), v.get(), nullptr, 3, kAdamW, s);
      });
}
GRAFT_BENCH(BM_AdamW);

// The parameter sizes of torchvision's ResNet-50 (161 tensors, 25.6M parameters).
std::vector<int64_t> resnet50_parameter_sizes() {
  std::vector<int64_t> sizes = {64 * 3 * 7 * 7, 64, 64};  // stem conv, bn1 weight and bias
  auto conv_bn = [&](int64_t in, int64_t out, int64_t k) {
    sizes.push_back(out * in * k * k);
    sizes.push_back(out);
    sizes.push_back(out);
  };
  int64_t in = 64;
  for (auto [planes, blocks] : {std::pair{64, 3}, std::pair{128, 4}, std::pair{256, 6}, std::pair{512, 3}}) {
    for (int b = 0; b < blocks; ++b) {
      conv_bn(in, planes, 1);
      conv_bn(planes, planes, 3);
      conv_bn(planes, planes * 4, 1);
      if (b == 0) conv_bn(in, planes * 4, 1);  // downsample
      in = planes * 4;
    }
  }
  sizes.push_back(1000 * 2048);  // fc
  sizes.push_back(1000);
  return sizes;
}

// AdamW over ResNet-50's parameters: one multi-tensor update, or one launch per tensor.
void run_adam_resnet50(benchmark::State& state, bool many) {
  const auto sizes = resnet50_parameter_sizes();
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  DeviceArray<float> param(pattern(total, 23)), m(pattern(total, 24, -0.1f, 0.1f)), v(pattern(total, 25, 0, 0.01f));
  const DeviceArray<float> grad(pattern(total, 26));
  std::vector<cuda::AdamTensor<float>> tensors;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    tensors.push_back({param.get() + offset, grad.get() + offset, m.get() + offset, v.get() + offset, nullptr, s, 3});
    offset += s;
  }
  auto run = [&](cudaStream_t stream) {
    if (many) {
      cuda::adam_update_many(tensors.data(), int64_t(tensors.size()), kAdamW, stream);
    } else {
      for (const auto& t : tensors)
        cuda::adam_update<float>(t.n, t.param, t.grad, t.exp_avg, t.exp_avg_sq, nullptr, t.step, kAdamW, stream);
    }
  };
  measure(
      state, 28.0 * total,
      [&] {
        // One step each way from the same state must agree bit for bit.
        DeviceArray<float> p2(param.download()), m2(m.download()), v2(v.download());
        cuda::adam_update_many(tensors.data(), int64_t(tensors.size()), kAdamW, nullptr);
        int64_t at = 0;
        for (int64_t s : sizes) {
          cuda::adam_update<float>(s, p2.get() + at, grad.get() + at, m2.get() + at, v2.get() + at, nullptr, 3, kAdamW,
                                   nullptr);
          at += s;
        }
        return compare(param.download(), p2.download(), 0);
      },
      run);
  state.counters["launches"] = many ? 1 : double(sizes.size());
}

void BM_AdamWResNet50Many(benchmark::State& state) { run_adam_resnet50(state, true); }
void BM_AdamWResNet50PerTensor(benchmark::State& state) { run_adam_resnet50(state, false); }
GRAFT_BENCH(BM_AdamWResNet50Many);
GRAFT_BENCH(BM_AdamWResNet50PerTensor);

void BM_SumOfSquares(benchmark::State& state) {
  const auto x_host = pattern(kN, 27);
  const DeviceArray<float> x(x_host);
  DeviceArray<double> result(1);
  measure(
      state, 4.0 * kN,
      [&] {
        cuda::sum_of_squares(x.get(), kN, result.get(), nullptr);
        return compare(result.download(), std::vector<double>{cpu::sum_of_squares(x_host.data(), kN)}, 1e-12);
      },
      [&](cudaStream_t s) { cuda::sum_of_squares(x.get(), kN, result.get(), s); });
}
GRAFT_BENCH(BM_SumOfSquares);

void BM_ScaleInPlace(benchmark::State& state) {
  auto x_host = pattern(kN, 28);
  DeviceArray<float> x(x_host);
  measure(
      state, 8.0 * kN,
      [&] {
        cpu::scale_in_place(x_host.data(), kN, 0.5f);
        cuda::scale_in_place(x.get(), kN, 0.5f, nullptr);
        return compare(x.download(), x_host, 0);
      },
      [&](cudaStream_t s) { cuda::scale_in_place(x.get(), kN, 0.5f, s); });
}
GRAFT_BENCH(BM_ScaleInPlace);

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "bench_cuda_light: no CUDA GPU is present\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  BandwidthTableReporter reporter("Light kernels: bandwidth");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
