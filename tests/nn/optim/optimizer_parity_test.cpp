// Optimizer parity with torch.optim (tests/oracle/optim_reference.py): SGD (weight decay, momentum
// with dampening, Nesterov), Adam and AdamW (with amsgrad), over two parameter groups with their
// own lr and weight decay, for 10 steps in which some parameters miss their gradient (skipped, and
// their state starts late). Every parameter is compared after every step. One run of the oracle
// computes torch's trajectories for all cases.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <type_traits>

#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/optim/optimizer.h"
#include "tests/nn/optim/optim_oracle.h"
#include "tests/support/compare.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

using testing::py;

struct ParamSpec {
  std::string name;
  Shape shape;
  int group;
};
// Odd sizes, so that vectorized loops also run their remainders.
const std::vector<ParamSpec> kParams = {{"a", {7, 5}, 0}, {"b", {37}, 0}, {"c", {3, 2, 2}, 1}};
constexpr int kSteps = 10;
constexpr double kLr[2] = {0.05, 0.2};

// b misses the gradient at step 3; c has none before step 3.
bool has_grad(const std::string& name, int step) {
  return !(name == "b" && step == 3) && !(name == "c" && step <= 2);
}

struct Case {
  std::string label;        // the test's name
  std::string torch_class;  // "SGD", "Adam", "AdamW"
  std::function<std::unique_ptr<nn::Optimizer>(std::vector<nn::ParamGroup>)> make;
  std::string torch_kwargs = "";  // extra keyword arguments, e.g. "momentum=0.9"
  double weight_decay[2] = {0.01, 0.0};
  DType dtype = DType::f32;
  double rtol = 1e-6;
};

template <class O, class Options = std::nullptr_t>
auto maker(Options options = nullptr) {
  return [options](std::vector<nn::ParamGroup> groups) -> std::unique_ptr<nn::Optimizer> {
    if constexpr (std::is_same_v<Options, std::nullptr_t>) {
      return std::make_unique<O>(std::move(groups));
    } else {
      return std::make_unique<O>(std::move(groups), options);
    }
  };
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"Sgd", "SGD", maker<nn::Sgd>()},
      {"SgdMomentumDampening", "SGD", maker<nn::Sgd>(nn::SgdOptions{.momentum = 0.9, .dampening = 0.1}),
       "momentum=0.9, dampening=0.1"},
      {"SgdNesterov", "SGD", maker<nn::Sgd>(nn::SgdOptions{.momentum = 0.8, .nesterov = true}),
       "momentum=0.8, nesterov=True", {1e-3, 5e-4}},
      {"AdamL2WeightDecay", "Adam", maker<nn::Adam>(nn::AdamOptions{.beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6}),
       "betas=(0.8, 0.99), eps=1e-6"},
      {"AdamAmsgrad", "Adam", maker<nn::Adam>(nn::AdamOptions{.amsgrad = true}), "amsgrad=True"},
      {"AdamW", "AdamW", maker<nn::AdamW>(), "", {0.1, 0.0}},
      {"AdamWAmsgrad", "AdamW", maker<nn::AdamW>(nn::AdamOptions{.amsgrad = true}), "amsgrad=True", {0.1, 0.02}},
      {"AdamWAmsgradFloat64", "AdamW", maker<nn::AdamW>(nn::AdamOptions{.amsgrad = true}), "amsgrad=True",
       {0.01, 0.0}, DType::f64, 1e-13},
      {"SgdMomentumFloat64", "SGD", maker<nn::Sgd>(nn::SgdOptions{.momentum = 0.9}), "momentum=0.9", {0.01, 0.0},
       DType::f64, 1e-13},
  };
  return all;
}

// A case's initial parameters and per-step gradients (the same for every case of a dtype).
struct Inputs {
  std::map<std::string, Tensor> params;
  std::map<std::pair<int, std::string>, Tensor> grads;
};

Inputs make_inputs(const Case& c) {
  Generator gen(77);
  Inputs inputs;
  for (const ParamSpec& spec : kParams) inputs.params[spec.name] = randn(spec.shape, gen, c.dtype);
  for (int step = 1; step <= kSteps; ++step) {
    for (const ParamSpec& spec : kParams) {
      if (has_grad(spec.name, step)) inputs.grads[{step, spec.name}] = randn(spec.shape, gen, c.dtype);
    }
  }
  return inputs;
}

std::string torch_expression(const Case& c) {
  std::string groups;
  for (int g = 0; g < 2; ++g) {
    std::string names;
    for (const ParamSpec& spec : kParams) {
      if (spec.group == g) names += "params['" + spec.name + "'], ";
    }
    groups += "{'params': [" + names + "], 'lr': " + py(kLr[g]) + ", 'weight_decay': " + py(c.weight_decay[g]) + "}, ";
  }
  return "torch.optim." + c.torch_class + "([" + groups + "], lr=" + py(kLr[0]) + ", foreach=False" +
         (c.torch_kwargs.empty() ? "" : ", " + c.torch_kwargs) + ")";
}

// torch's trajectories for every case, from one run of the oracle on first use; null if it failed.
const std::vector<safetensors::File>* torch_trajectories() {
  static const std::optional<std::vector<safetensors::File>> trajectories = [] {
    std::vector<testing::OracleCase> oracle_cases;
    for (const Case& c : cases()) {
      const Inputs inputs = make_inputs(c);
      testing::OracleCase oracle_case{
          .tensors = {},
          .metadata = {{"mode", "optimizer"}, {"optimizer", torch_expression(c)}, {"steps", std::to_string(kSteps)}}};
      for (const auto& [name, p] : inputs.params) oracle_case.tensors.emplace_back("param:" + name, p);
      for (const auto& [key, g] : inputs.grads) {
        oracle_case.tensors.emplace_back("grad:" + std::to_string(key.first) + ":" + key.second, g);
      }
      oracle_cases.push_back(std::move(oracle_case));
    }
    return testing::run_optim_reference(oracle_cases);
  }();
  return trajectories ? &*trajectories : nullptr;
}

// gtest names a failing case by its label rather than by its bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.label; }

class OptimizerParity : public ::testing::TestWithParam<Case> {};

TEST_P(OptimizerParity, MatchesTorchAfterEveryStep) {
  GRAFT_REQUIRE_TORCH();
  const Case& c = GetParam();
  const std::vector<safetensors::File>* trajectories = torch_trajectories();
  ASSERT_NE(trajectories, nullptr) << "the oracle failed (see the first failure)";
  size_t index = 0;
  while (cases()[index].label != c.label) ++index;
  const safetensors::File& reference = (*trajectories)[index];

  Inputs inputs = make_inputs(c);
  std::vector<nn::ParamGroup> groups(2);
  for (int g = 0; g < 2; ++g) {
    groups[g] = {.name = g == 0 ? "backbone" : "head", .params = {}, .lr = kLr[g], .weight_decay = c.weight_decay[g]};
  }
  for (const ParamSpec& spec : kParams) {
    inputs.params[spec.name].set_requires_grad(true);
    groups[spec.group].params.emplace_back(spec.name, inputs.params[spec.name]);
  }
  std::unique_ptr<nn::Optimizer> optimizer = c.make(groups);
  int64_t elements = 0, bitwise_equal = 0;
  for (int step = 1; step <= kSteps; ++step) {
    for (const ParamSpec& spec : kParams) {
      inputs.params[spec.name].set_grad(has_grad(spec.name, step) ? inputs.grads[{step, spec.name}] : Tensor());
    }
    optimizer->step();
    for (const ParamSpec& spec : kParams) {
      const Tensor& actual = inputs.params[spec.name];
      const Tensor& expected = reference.at(std::to_string(step) + ":" + spec.name);
      EXPECT_TRUE(testing::all_close(actual, expected, 0, c.rtol, concat("'", spec.name, "' after step ", step)));
      const auto ours = actual.to_vector<double>(), theirs = expected.to_vector<double>();
      for (size_t i = 0; i < ours.size(); ++i) bitwise_equal += ours[i] == theirs[i];
      elements += static_cast<int64_t>(ours.size());
    }
  }
  std::printf("%s: %lld of %lld values bitwise equal to torch's\n", torch_expression(c).c_str(),
              static_cast<long long>(bitwise_equal), static_cast<long long>(elements));
}

INSTANTIATE_TEST_SUITE_P(Torch, OptimizerParity, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.label; });

}  // namespace
}  // namespace graft
