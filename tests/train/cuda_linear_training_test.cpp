// A linear classifier (Linear + cross-entropy) trained on the GPU equals the same run on the CPU:
// same initial weights, same batches, same optimizer. The GPU's GEMMs and sums add in another
// order, so each step differs by float rounding, and those differences compound over the steps;
// the tolerances below bound that drift for 40 steps of a well-conditioned problem.
#include <memory>
#include <vector>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "nn/linear.h"
#include "nn/optim/optim.h"
#include "tests/support/compare.h"
#include "tests/support/gpu.h"

namespace graft {
namespace {

constexpr int64_t kFeatures = 48, kClasses = 7, kBatch = 32, kSteps = 40;

struct Run {
  std::vector<double> losses;
  nn::NamedTensors weights;  // on the CPU
};

// Class-dependent means plus noise, so that the classifier has something to learn.
std::vector<std::pair<Tensor, Tensor>> make_batches() {
  Generator generator(3);
  const Tensor means = randn({kClasses, kFeatures}, generator) * 2.0;
  std::vector<std::pair<Tensor, Tensor>> batches;
  for (int64_t s = 0; s < kSteps; ++s) {
    std::vector<int64_t> labels(kBatch);
    for (int64_t& label : labels) label = static_cast<int64_t>(generator.next_double() * kClasses);
    const Tensor y = Tensor::from_vector(labels, {kBatch});
    std::vector<Tensor> rows;
    for (int64_t label : labels) rows.push_back(means.slice(0, label, label + 1));
    batches.emplace_back(ops::cat(rows, 0) + randn({kBatch, kFeatures}, generator), y);
  }
  return batches;
}

enum class Recipe { sgd, adamw_clipped };

Run train(Device device, Recipe recipe) {
  Generator init(5);
  nn::Linear model(kFeatures, kClasses, true, init);
  model.to(device);
  std::vector<nn::ParamGroup> groups = {{.name = "all", .params = model.named_parameters(), .lr = 0.05,
                                         .weight_decay = 1e-3}};
  std::unique_ptr<nn::Optimizer> optimizer;
  if (recipe == Recipe::sgd) {
    optimizer = std::make_unique<nn::Sgd>(groups, nn::SgdOptions{.momentum = 0.9, .nesterov = true});
  } else {
    groups[0].lr = 0.01;
    optimizer = std::make_unique<nn::AdamW>(groups);
  }
  Run run;
  for (const auto& [x, y] : make_batches()) {
    const Tensor loss = ops::cross_entropy(model(x.to(device)), y.to(device), ops::Reduction::mean, -100, 0.05);
    optimizer->zero_grad();
    loss.backward();
    if (recipe == Recipe::adamw_clipped) nn::clip_grad_norm(optimizer->parameters(), 1.0);
    optimizer->step();
    run.losses.push_back(loss.item());
  }
  for (const auto& [name, param] : model.named_parameters()) run.weights.emplace_back(name, param.to(Device::cpu()));
  return run;
}

void expect_same_training(Recipe recipe) {
  const Run cpu = train(Device::cpu(), recipe);
  const Run gpu = train(Device::cuda(), recipe);
  ASSERT_EQ(gpu.losses.size(), cpu.losses.size());
  EXPECT_LT(cpu.losses.back(), 0.5 * cpu.losses.front()) << "the classifier did not learn; the test proves nothing";
  for (size_t s = 0; s < cpu.losses.size(); ++s)
    EXPECT_NEAR(gpu.losses[s], cpu.losses[s], 1e-4 * cpu.losses[s]) << "step " << s;
  for (size_t i = 0; i < cpu.weights.size(); ++i) {
    EXPECT_TRUE(testing::all_close(gpu.weights[i].second, cpu.weights[i].second, 0, 1e-4, cpu.weights[i].first));
  }
}

TEST(CudaTraining, LinearClassifierWithNesterovSgdMatchesTheCpu) {
  GRAFT_REQUIRE_GPU();
  expect_same_training(Recipe::sgd);
}

TEST(CudaTraining, LinearClassifierWithClippedAdamWMatchesTheCpu) {
  GRAFT_REQUIRE_GPU();
  expect_same_training(Recipe::adamw_clipped);
}

}  // namespace
}  // namespace graft
