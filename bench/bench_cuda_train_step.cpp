// End to end on the GPU: one SGD training step (momentum 0.9) of ResNet-18 and ResNet-50 in
// training mode, batch 64 (GRAFT_BENCH_BATCH), random 3x224x224 images and labels, cross-entropy,
// in float32, with graft's own GPU kernels and with the vendor's (GRAFT_KERNELS=vendor: cuBLAS and
// cuDNN), and PyTorch eager FP32 on the same GPU (bench/torch_train_step.py, run by this
// binary right after graft's runs, with /usr/bin/python3 or GRAFT_TORCH_PYTHON). Each run times
// kIterations steps after warm-up steps, with the device synchronized around them, and reports
// images/s; a markdown table with the ratios ends the output.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench/cuda_timing.h"
#include "bench/torch_train_step.h"
#include "core/cuda_runtime.h"
#include "core/kernel_choice.h"
#include "core/ops/ops.h"
#include "core/rng.h"
#include "models/registry.h"
#include "nn/optim/optim.h"

namespace {

using namespace graft;

constexpr int kIterations = 10;
const std::vector<std::string> kModels = {"resnet18", "resnet50"};

int64_t batch_size() {
  const char* env = std::getenv("GRAFT_BENCH_BATCH");
  return env ? std::atoll(env) : 64;
}

// images/s of each (model, kernel source).
std::map<std::string, std::map<std::string, double>>& throughput() {
  static std::map<std::string, std::map<std::string, double>> results;
  return results;
}

void BM_TrainStep(benchmark::State& state, const std::string& model_name, KernelSource source) {
  for (KernelFamily family : kernel_families()) set_kernel_source(family, source);
  const int64_t batch = batch_size();
  const Device gpu = Device::cuda();
  Generator generator(0);
  auto model = models::create(model_name, {.num_classes = 1000, .generator = &generator});
  model->to(gpu);
  model->train();
  nn::Sgd optimizer({{.name = "all", .params = model->named_parameters(), .lr = 0.01}}, {.momentum = 0.9});
  const Tensor images = randn({batch, 3, 224, 224}, generator).to(gpu);
  std::vector<int64_t> label_values(batch);
  for (int64_t& label : label_values) label = static_cast<int64_t>(generator.next_double() * 1000);
  const Tensor labels = Tensor::from_vector(label_values, {batch}).to(gpu);
  const auto step = [&] {
    optimizer.zero_grad();
    ops::cross_entropy((*model)(images), labels).backward();
    optimizer.step();
  };
  for (int i = 0; i < 3; ++i) step();  // cuDNN's algorithm search, the allocator's first segments
  cuda::synchronize(0);
  cudaEvent_t start, stop;
  bench::check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  bench::check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  double seconds = 0;
  for (auto _ : state) {
    bench::check_cuda(cudaEventRecord(start, nullptr), "cudaEventRecord");
    step();
    bench::check_cuda(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    bench::check_cuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    bench::check_cuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms * 1e-3);
    seconds += ms * 1e-3;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.SetItemsProcessed(state.iterations() * batch);
  throughput()[model_name][kernel_source_name(source)] = static_cast<double>(state.iterations() * batch) / seconds;
  for (KernelFamily family : kernel_families()) set_kernel_source(family, KernelSource::own);
}

void print_table(const std::map<std::string, double>& torch) {
  cudaDeviceProp props{};
  bench::check_cuda(cudaGetDeviceProperties(&props, 0), "cudaGetDeviceProperties");
  std::printf("\n### Training step on %s: images/s, batch %lld, FP32 (ratio = graft / PyTorch eager)\n\n", props.name,
              static_cast<long long>(batch_size()));
  std::printf("| model | graft own kernels | graft vendor kernels | PyTorch eager | own / PyTorch | vendor / PyTorch |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const std::string& model : kModels) {
    const auto& runs = throughput()[model];
    const double own = runs.count("own") ? runs.at("own") : 0, vendor = runs.count("vendor") ? runs.at("vendor") : 0;
    if (!torch.count(model)) {
      std::printf("| %s | %.1f | %.1f | not run | - | - |\n", model.c_str(), own, vendor);
      continue;
    }
    const double theirs = torch.at(model);
    std::printf("| %s | %.1f | %.1f | %.1f | %.2f | %.2f |\n", model.c_str(), own, vendor, theirs, own / theirs,
                vendor / theirs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_cuda_train_step: no CUDA GPU is present; nothing to measure\n");
    return 1;
  }
  for (const std::string& model : kModels) {
    for (KernelSource source : {KernelSource::own, KernelSource::vendor}) {
      benchmark::RegisterBenchmark((std::string("BM_TrainStep/") + model + "/" + kernel_source_name(source)).c_str(),
                                   BM_TrainStep, model, source)
          ->UseManualTime()
          ->Iterations(kIterations)
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_table(bench::torch_images_per_second({.device = "cuda", .batch = batch_size(), .steps = kIterations}, kModels));
  return 0;
}
