// What freezing saves: one SGD training step of a ResNet (batch 8, 3x224x224 random images,
// random labels, cross-entropy, backward, in-place SGD on the trainable parameters) with
//   full          every parameter trainable;
//   fc_only       only fc trainable, every batch norm in training mode (PyTorch's default after
//                 model.train(): batch statistics, running statistics updated);
//   fc_only_bn    only fc trainable, batch-norm statistics frozen too (nn::freeze_bn_stats).
// Each run reports its fastest step, split into forward, backward and update, as counters; at the
// end the frozen variants are printed as a ratio of the full step of the same model.
// Run with GRAFT_NUM_THREADS set, e.g. GRAFT_NUM_THREADS=2 build/bench/bench_finetune_step.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "kernels/cpu/parallel.h"
#include "models/registry.h"
#include "nn/freeze.h"

namespace {

using namespace graft;
using Clock = std::chrono::steady_clock;

enum class Mode { full, fc_only, fc_only_bn };

constexpr int64_t kBatch = 8, kClasses = 1000;
constexpr double kLearningRate = 0.01;

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
Phases train_step(nn::Module& model, const std::vector<Tensor>& trainable, const Tensor& x, const Tensor& labels) {
  Phases phases;
  Clock::time_point start = Clock::now();
  const Tensor loss = ops::cross_entropy(model(x), labels);
  phases.forward = seconds_since(start);

  start = Clock::now();
  loss.backward();
  phases.backward = seconds_since(start);

  start = Clock::now();
  for (const Tensor& p : trainable) {  // p -= lr * grad, in place; parameters are contiguous f32
    const Tensor grad = p.grad().contiguous();
    float* w = p.data<float>();
    const float* g = grad.data<float>();
    const int64_t n = p.numel();
    for (int64_t i = 0; i < n; ++i) w[i] -= static_cast<float>(kLearningRate) * g[i];
    p.set_grad(Tensor());
  }
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
  std::vector<Tensor> trainable;
  for (const Tensor& p : model->parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  const Tensor x = randn({kBatch, 3, 224, 224}, gen);
  std::vector<int64_t> label_values(kBatch);
  for (int64_t& label : label_values) label = static_cast<int64_t>(rand({1}, gen).item() * kClasses) % kClasses;
  const Tensor labels = Tensor::from_vector(label_values, {kBatch});

  train_step(*model, trainable, x, labels);  // first-touch allocations
  Phases fastest{.forward = 1e30};
  for (auto _ : state) {
    const Phases phases = train_step(*model, trainable, x, labels);
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

}  // namespace

int main(int argc, char** argv) {
  register_model("resnet18", 8);
  register_model("resnet50", 4);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_ratios();
  return 0;
}
