// One SGD training step of a ResNet on the CPU (batch 8, 3x224x224 random images, random labels,
// cross-entropy, backward, SGD with momentum 0.9 on the trainable parameters), and what freezing
// saves, with
//   full          every parameter trainable;
//   fc_only       only fc trainable, every batch norm in training mode (PyTorch's default after
//                 model.train(): batch statistics, running statistics updated);
//   fc_only_bn    only fc trainable, batch-norm statistics frozen too (nn::freeze_bn_stats).
// Each run reports its fastest step, split into forward, backward and update, as counters. At the
// end the frozen variants are printed as a ratio of the full step of the same model, and the full
// step side by side with PyTorch eager's on the same CPU and thread count (bench/torch_train_step.py,
// run right after graft's runs; GRAFT_BENCH_TORCH=0 leaves it out).
// Run with GRAFT_NUM_THREADS set, e.g. GRAFT_NUM_THREADS=2 build/bench/bench_finetune_step.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench/torch_train_step.h"
#include "core/ops/ops.h"
#include "core/rng.h"
#include "kernels/cpu/parallel.h"
#include "models/registry.h"
#include "nn/freeze.h"
#include "nn/optim/optim.h"

namespace {

using namespace graft;
using Clock = std::chrono::steady_clock;

enum class Mode { full, fc_only, fc_only_bn };

constexpr int64_t kBatch = 8, kClasses = 1000;
// Timed steps per run of each model (graft's and PyTorch's alike).
const std::map<std::string, int> kTimedSteps = {{"resnet18", 8}, {"resnet50", 4}};

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::full: return "full";
    case Mode::fc_only: return "fc_only";
    case Mode::fc_only_bn: return "fc_only_bn";
  }
  return "";
}

// Seconds per step of each (model, mode) run, for the closing ratio table.
std::map<std::string, std::map<std::string, double>>& step_seconds() {
  static std::map<std::string, std::map<std::string, double>> seconds;
  return seconds;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Phases {
  double forward = 0, backward = 0, update = 0;
  double total() const { return forward + backward + update; }
};

// One training step, timed by phase.
Phases train_step(nn::Module& model, nn::Optimizer& optimizer, const Tensor& x, const Tensor& labels) {
  Phases phases;
  Clock::time_point start = Clock::now();
  const Tensor loss = ops::cross_entropy(model(x), labels);
  phases.forward = seconds_since(start);

  start = Clock::now();
  loss.backward();
  phases.backward = seconds_since(start);

  start = Clock::now();
  optimizer.step();
  optimizer.zero_grad();
  phases.update = seconds_since(start);
  return phases;
}

// Counters give the fastest step (the one least disturbed by other work on the machine) split by
// phase; the benchmark's own time is the mean.
void BM_FinetuneStep(benchmark::State& state, const std::string& model_name, Mode mode) {
  Generator gen(0);
  auto model = models::create(model_name, {.num_classes = kClasses, .generator = &gen});
  model->train();
  if (mode != Mode::full) nn::freeze(*model, {"before:fc"});
  if (mode == Mode::fc_only_bn) nn::freeze_bn_stats(*model);
  nn::NamedTensors trainable;
  for (const auto& named : model->named_parameters()) {
    if (named.second.requires_grad()) trainable.push_back(named);
  }
  nn::Sgd optimizer({{.name = "trainable", .params = trainable, .lr = 0.01}}, {.momentum = 0.9});
  const Tensor x = randn({kBatch, 3, 224, 224}, gen);
  std::vector<int64_t> label_values(kBatch);
  for (int64_t& label : label_values) label = static_cast<int64_t>(rand({1}, gen).item() * kClasses) % kClasses;
  const Tensor labels = Tensor::from_vector(label_values, {kBatch});

  train_step(*model, optimizer, x, labels);  // first-touch allocations
  Phases fastest{.forward = 1e30};
  for (auto _ : state) {
    const Phases phases = train_step(*model, optimizer, x, labels);
    if (phases.total() < fastest.total()) fastest = phases;
  }
  state.counters["min_ms"] = 1e3 * fastest.total();
  state.counters["forward_ms"] = 1e3 * fastest.forward;
  state.counters["backward_ms"] = 1e3 * fastest.backward;
  state.counters["update_ms"] = 1e3 * fastest.update;
  state.counters["trainable"] = static_cast<double>(model->parameter_count(true));
  state.counters["threads"] = kernels::cpu::num_threads();
  step_seconds()[model_name][mode_name(mode)] = fastest.total();
}

void register_model(const std::string& model_name, int iterations) {
  for (const Mode mode : {Mode::full, Mode::fc_only, Mode::fc_only_bn}) {
    benchmark::RegisterBenchmark(("BM_FinetuneStep/" + model_name + "/" + mode_name(mode)).c_str(), BM_FinetuneStep,
                                 model_name, mode)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(iterations)
        ->UseRealTime();
  }
}

void print_ratios() {
  for (const auto& [model_name, modes] : step_seconds()) {
    const auto full = modes.find("full");
    if (full == modes.end()) continue;
    for (const auto& [mode, seconds] : modes) {
      if (mode == "full") continue;
      std::printf("%s: %s step %.1f ms = %.3fx the full step (%.1f ms; fastest steps)\n", model_name.c_str(), mode.c_str(),
                  1e3 * seconds, seconds / full->second, 1e3 * full->second);
    }
  }
}

// The full step beside PyTorch eager's, same batch, steps and threads, both the fastest step.
void print_torch_comparison() {
  const char* wanted = std::getenv("GRAFT_BENCH_TORCH");
  if (wanted && std::string(wanted) == "0") return;
  std::vector<std::string> models;
  for (const auto& [model_name, modes] : step_seconds()) {
    if (modes.count("full")) models.push_back(model_name);
  }
  if (models.empty()) return;
  const int threads = kernels::cpu::num_threads();
  std::map<std::string, double> torch;
  for (const std::string& model : models) {
    torch.merge(bench::torch_images_per_second(
        {.device = "cpu", .batch = kBatch, .steps = kTimedSteps.at(model), .threads = threads}, {model}));
  }
  std::printf("\n### Training step on the CPU: images/s, batch %lld, %d threads (ratio = graft / PyTorch eager)\n\n",
              static_cast<long long>(kBatch), threads);
  std::printf("| model | graft | PyTorch eager | graft / PyTorch |\n|---|---:|---:|---:|\n");
  for (const std::string& model : models) {
    const double ours = kBatch / step_seconds()[model]["full"];
    if (!torch.count(model)) {
      std::printf("| %s | %.2f | not run | - |\n", model.c_str(), ours);
      continue;
    }
    std::printf("| %s | %.2f | %.2f | %.2f |\n", model.c_str(), ours, torch.at(model), ours / torch.at(model));
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (const auto& [model_name, steps] : kTimedSteps) register_model(model_name, steps);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_ratios();
  print_torch_comparison();
  return 0;
}
