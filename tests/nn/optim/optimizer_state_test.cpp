// Optimizer state dicts (resume is bit-identical, through a safetensors file; mismatched states are
// refused with the reason and nothing loaded), zero_grad, and the checks on bad groups, options and
// gradients.
#include <filesystem>
#include <functional>
#include <memory>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/optim/optimizer.h"
#include "tests/support/errors.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

using testing::expect_error;
using MakeOptimizer = std::function<std::unique_ptr<nn::Optimizer>(std::vector<nn::ParamGroup>)>;

// Two groups over three parameters; "frozen" never gets a gradient and so never has state.
struct Problem {
  Tensor w, b, head, frozen;

  explicit Problem(uint64_t seed) {
    Generator gen(seed);
    w = randn({4, 3}, gen).set_requires_grad(true);
    b = randn({4}, gen).set_requires_grad(true);
    head = randn({2, 4}, gen).set_requires_grad(true);
    frozen = randn({3}, gen);
  }
  std::vector<nn::ParamGroup> groups() const {
    return {{.name = "backbone", .params = {{"w", w}, {"b", b}, {"frozen", frozen}}, .lr = 0.05, .weight_decay = 1e-2},
            {.name = "head", .params = {{"fc.weight", head}}, .lr = 0.3, .weight_decay = 0}};
  }
  // Deterministic gradients for step `step`: the head gets none on odd steps.
  void set_grads(int step) const {
    Generator gen(1000 + step);
    w.set_grad(randn(w.shape(), gen));
    b.set_grad(randn(b.shape(), gen));
    head.set_grad(step % 2 ? Tensor() : randn(head.shape(), gen));
  }
};

void run_steps(nn::Optimizer& optimizer, const Problem& problem, int first, int last) {
  for (int step = first; step <= last; ++step) {
    problem.set_grads(step);
    optimizer.step();
    optimizer.groups()[1].lr *= 0.5;  // as a schedule would
  }
}

void expect_bitwise_equal(const Tensor& a, const Tensor& b, const std::string& what) {
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>()) << what;
}

void expect_resume_is_bit_identical(const MakeOptimizer& make) {
  Problem straight(5), resumed(5);
  auto straight_optimizer = make(straight.groups());
  run_steps(*straight_optimizer, straight, 1, 6);

  auto first_half = make(resumed.groups());
  run_steps(*first_half, resumed, 1, 3);
  const std::string path = (std::filesystem::temp_directory_path() / "graft_optimizer_state.safetensors").string();
  safetensors::write(path, first_half->state_dict());
  first_half.reset();
  auto second_half = make(resumed.groups());
  second_half->load_state_dict(safetensors::read(path).tensors);
  std::filesystem::remove(path);
  run_steps(*second_half, resumed, 4, 6);

  expect_bitwise_equal(resumed.w, straight.w, "w");
  expect_bitwise_equal(resumed.b, straight.b, "b");
  expect_bitwise_equal(resumed.head, straight.head, "fc.weight");
  EXPECT_EQ(second_half->groups()[1].lr, straight_optimizer->groups()[1].lr);
  EXPECT_EQ(second_half->groups()[1].initial_lr, 0.3);
}

TEST(OptimizerState, SgdResumesBitIdentically) {
  expect_resume_is_bit_identical([](auto groups) {
    return std::make_unique<nn::Sgd>(std::move(groups), nn::SgdOptions{.momentum = 0.9, .nesterov = true});
  });
}

TEST(OptimizerState, AdamResumesBitIdentically) {
  expect_resume_is_bit_identical([](auto groups) {
    return std::make_unique<nn::Adam>(std::move(groups), nn::AdamOptions{.amsgrad = true});
  });
}

TEST(OptimizerState, AdamWResumesBitIdentically) {
  expect_resume_is_bit_identical([](auto groups) { return std::make_unique<nn::AdamW>(std::move(groups)); });
}

std::vector<std::string> names_of(const nn::StateDict& state) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : state) names.push_back(name);
  return names;
}

TEST(OptimizerState, NamesSayWhatEachEntryIs) {
  Problem problem(1);
  nn::Adam adam(problem.groups(), {.amsgrad = true});
  EXPECT_EQ(names_of(adam.state_dict()),
            (std::vector<std::string>{"group.backbone.lr", "group.backbone.initial_lr", "group.head.lr",
                                      "group.head.initial_lr"}));
  problem.set_grads(1);  // no gradient for the head at odd steps
  adam.step();
  const nn::StateDict state = adam.state_dict();
  EXPECT_EQ(names_of(state),
            (std::vector<std::string>{"group.backbone.lr", "group.backbone.initial_lr", "group.head.lr",
                                      "group.head.initial_lr", "w.exp_avg", "w.exp_avg_sq", "w.max_exp_avg_sq",
                                      "w.step", "b.exp_avg", "b.exp_avg_sq", "b.max_exp_avg_sq", "b.step"}));
  EXPECT_EQ(state[7].second.dtype(), DType::i64);
  EXPECT_EQ(state[7].second.item(), 1);
  EXPECT_EQ(state[0].second.dtype(), DType::f64);
  EXPECT_EQ(state[0].second.item(), 0.05);

  Problem fresh(1);
  nn::Sgd sgd(fresh.groups(), {.momentum = 0.9});
  fresh.set_grads(1);
  const std::vector<float> grad = fresh.b.grad().to_vector<float>(), param = fresh.b.to_vector<float>();
  sgd.step();
  const nn::StateDict sgd_state = sgd.state_dict();
  ASSERT_EQ(sgd_state.back().first, "b.momentum_buffer");
  // The first momentum buffer is the gradient itself (with weight decay added), as in torch.
  const std::vector<float> buffer = sgd_state.back().second.to_vector<float>();
  for (size_t i = 0; i < buffer.size(); ++i) EXPECT_FLOAT_EQ(buffer[i], grad[i] + 0.01f * param[i]);
}

TEST(OptimizerState, MismatchedStatesAreRefusedAndNothingIsLoaded) {
  Problem problem(2);
  nn::Adam adam(problem.groups());
  problem.set_grads(2);
  adam.step();
  const nn::StateDict adam_state = adam.state_dict();

  nn::Sgd sgd(problem.groups(), {.momentum = 0.9});
  expect_error([&] { sgd.load_state_dict(adam_state); }, "SGD.load_state_dict", "unexpected entries");

  nn::Adam amsgrad(problem.groups(), {.amsgrad = true});
  expect_error([&] { amsgrad.load_state_dict(adam_state); }, "Adam.load_state_dict",
               "parameter 'w' lacks max_exp_avg_sq");

  nn::StateDict wrong_shape = adam_state;
  for (auto& [name, tensor] : wrong_shape) {
    if (name == "b.exp_avg") tensor = Tensor::zeros({5});
  }
  nn::Adam fresh(problem.groups());
  fresh.groups()[0].lr = 0.125;
  expect_error([&] { fresh.load_state_dict(wrong_shape); }, "Adam.load_state_dict", "'b.exp_avg' has float32 [5]");
  EXPECT_EQ(fresh.groups()[0].lr, 0.125);  // nothing loaded
  EXPECT_EQ(fresh.state_dict().size(), 4u);

  nn::StateDict no_lr(adam_state.begin() + 1, adam_state.end());
  expect_error([&] { fresh.load_state_dict(no_lr); }, "Adam.load_state_dict", "'group.backbone.lr' is missing");

  nn::StateDict bad_step = adam_state;
  for (auto& [name, tensor] : bad_step) {
    if (name == "w.step") tensor = Tensor::scalar(1.0);
  }
  expect_error([&] { fresh.load_state_dict(bad_step); }, "Adam.load_state_dict", "'w.step' should be an int64");

  nn::StateDict other_groups = adam_state;
  other_groups[0].first = "group.head2.lr";
  expect_error([&] { fresh.load_state_dict(other_groups); }, "Adam.load_state_dict", "'group.head2.lr'");
}

TEST(OptimizerState, ZeroGradMakesGradientsUndefined) {
  Problem problem(3);
  nn::Sgd sgd(problem.groups());
  problem.set_grads(2);
  sgd.zero_grad();
  EXPECT_FALSE(problem.w.grad().defined());
  EXPECT_FALSE(problem.head.grad().defined());
  const std::vector<float> before = problem.w.to_vector<float>();
  sgd.step();  // nothing has a gradient: nothing changes
  EXPECT_EQ(problem.w.to_vector<float>(), before);
  EXPECT_EQ(sgd.parameters().size(), 4u);
}

TEST(OptimizerChecks, BadGroupsAreRefused) {
  Problem problem(4);
  auto groups = problem.groups();
  groups[1].lr = -0.1;
  expect_error([&] { nn::Sgd sgd(groups); }, "SGD", "group 'head' has learning rate -0.1");
  groups = problem.groups();
  groups[0].weight_decay = -1;
  expect_error([&] { nn::Adam adam(groups); }, "Adam", "weight decay -1");
  groups = problem.groups();
  groups[1].name = "backbone";
  expect_error([&] { nn::Sgd sgd(groups); }, "SGD", "two parameter groups are named 'backbone'");
  groups = problem.groups();
  groups[1].params.emplace_back("w_again", problem.w);
  expect_error([&] { nn::Sgd sgd(groups); }, "SGD", "is the same tensor as parameter 'w'");
  groups = problem.groups();
  groups[1].params.emplace_back("w", Tensor::zeros({1}));
  expect_error([&] { nn::Sgd sgd(groups); }, "SGD", "the parameter name 'w' appears twice");
  groups = problem.groups();
  groups[1].params.emplace_back("transposed", Tensor::zeros({2, 3}).t());
  expect_error([&] { nn::Sgd sgd(groups); }, "SGD", "is not contiguous");
  groups = problem.groups();
  groups[1].params.emplace_back("labels", Tensor::zeros({2}, DType::i64));
  expect_error([&] { nn::Sgd sgd(groups); }, "SGD", "has dtype int64");
  groups = problem.groups();
  groups[1].params.emplace_back("computed", problem.w * problem.w);
  expect_error([&] { nn::Sgd sgd(groups); }, "SGD", "is not a leaf");
  expect_error([] { nn::Sgd sgd(std::vector<nn::ParamGroup>{{.name = "empty", .params = {}}}); }, "SGD", "no parameters to optimize");
}

TEST(OptimizerChecks, BadOptionsAreRefused) {
  Problem problem(5);
  expect_error([&] { nn::Sgd sgd(problem.groups(), {.nesterov = true}); }, "SGD", "Nesterov momentum needs momentum > 0");
  expect_error([&] { nn::Sgd sgd(problem.groups(), {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }, "SGD",
               "dampening 0");
  expect_error([&] { nn::Sgd sgd(problem.groups(), {.momentum = -0.5}); }, "SGD", "momentum -0.5 is invalid");
  expect_error([&] { nn::Adam adam(problem.groups(), {.beta1 = 1.0}); }, "Adam", "beta1 1 is invalid");
  expect_error([&] { nn::AdamW adamw(problem.groups(), {.beta2 = -0.1}); }, "AdamW", "beta2 -0.1 is invalid");
  expect_error([&] { nn::Adam adam(problem.groups(), {.eps = -1}); }, "Adam", "eps -1 is invalid");
}

TEST(OptimizerChecks, BadStepsChangeNothing) {
  Problem problem(6);
  nn::Adam adam(problem.groups());
  problem.set_grads(2);
  adam.groups()[1].lr = -1;  // e.g. set by hand between steps
  const std::vector<float> before = problem.w.to_vector<float>();
  expect_error([&] { adam.step(); }, "Adam.step", "group 'head' has learning rate -1");
  EXPECT_EQ(problem.w.to_vector<float>(), before);
  EXPECT_EQ(adam.state_dict().size(), 4u);  // no state was created

  adam.groups()[1].lr = 0.1;
  problem.head.set_grad(Tensor::zeros(problem.head.shape(), DType::f64));
  expect_error([&] { adam.step(); }, "Adam.step", "the gradient of 'fc.weight' has dtype float64");
  EXPECT_EQ(problem.w.to_vector<float>(), before);
}

TEST(OptimizerChecks, GroupsChangedAfterConstructionAreRefused) {
  Problem problem(8);
  nn::Sgd sgd(problem.groups(), {.momentum = 0.9});
  sgd.groups()[1].params.emplace_back("late", Tensor::zeros({2}));
  expect_error([&] { sgd.step(); }, "SGD.step", "create a new optimizer");
  expect_error([&] { sgd.state_dict(); }, "SGD.state_dict", "create a new optimizer");
}

TEST(OptimizerChecks, NonContiguousGradientsAreRead) {
  Problem a(7), b(7);
  nn::Sgd contiguous(a.groups(), {.momentum = 0.5}), strided(b.groups(), {.momentum = 0.5});
  a.set_grads(2);
  b.set_grads(2);
  b.w.set_grad(b.w.grad().t().contiguous().t());  // same values, transposed strides
  ASSERT_FALSE(b.w.grad().is_contiguous());
  contiguous.step();
  strided.step();
  expect_bitwise_equal(b.w, a.w, "w");
}

}  // namespace
}  // namespace graft
