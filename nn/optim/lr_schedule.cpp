// LrSchedule: the step and epoch counters, the linear warmup, setting the groups' lrs, and the
// schedule's state dict.
#include "nn/optim/lr_schedule.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace graft::nn {
namespace {

const std::string kSteps = "schedule.steps";
const std::string kEpochs = "schedule.epochs";

int64_t read_counter(const std::map<std::string, Tensor>& state, const std::string& name) {
  const double value = state.at(name).item();
  GRAFT_CHECK(value >= 0, "LrSchedule.load_state_dict: '", name, "' is ", value, "; a counter is >= 0");
  return static_cast<int64_t>(value);
}

}  // namespace

LrSchedule::LrSchedule(Optimizer& optimizer, Warmup warmup) : optimizer_(optimizer), warmup_(warmup) {
  GRAFT_CHECK(warmup.steps >= 0, "LrSchedule: warmup steps ", warmup.steps, " is negative; use 0 for no warmup");
  GRAFT_CHECK(warmup.start_factor > 0 && warmup.start_factor <= 1, "LrSchedule: the warmup start factor ",
              warmup.start_factor, " is invalid; it must be in (0, 1] (0.01 starts at 1% of the lr)");
  apply_lr();
}

void LrSchedule::on_step() {
  ++steps_;
  apply_lr();
}

void LrSchedule::on_epoch_end(double val_metric) {
  ++epochs_;
  apply_lr();
}

double LrSchedule::warmup_factor() const {
  if (warmup_.steps == 0) return 1.0;
  const double done = static_cast<double>(std::min(steps_, warmup_.steps));
  return warmup_.start_factor + (1.0 - warmup_.start_factor) * done / static_cast<double>(warmup_.steps);
}

double LrSchedule::main_lr(size_t g) const { return optimizer_.groups()[g].initial_lr; }

void LrSchedule::apply_lr() {
  const double warmup = warmup_factor();
  std::vector<ParamGroup>& groups = optimizer_.groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].lr = main_lr(g) * warmup;
  apply_momentum();
}

StateDict LrSchedule::state_dict() const {
  return {{kSteps, Tensor::scalar(static_cast<double>(steps_), DType::i64)},
          {kEpochs, Tensor::scalar(static_cast<double>(epochs_), DType::i64)}};
}

void LrSchedule::restore(const std::map<std::string, Tensor>& state) {
  const int64_t steps = read_counter(state, kSteps);
  const int64_t epochs = read_counter(state, kEpochs);
  steps_ = steps;
  epochs_ = epochs;
}

void LrSchedule::load_state_dict(const StateDict& state) {
  std::map<std::string, Tensor> given;
  std::vector<std::string> problems;
  for (const auto& [name, tensor] : state) {
    if (!tensor.defined()) {
      problems.push_back("'" + name + "' is an undefined tensor");
    } else if (!given.emplace(name, tensor).second) {
      problems.push_back("'" + name + "' appears twice");
    }
  }
  std::set<std::string> expected_names;
  for (const auto& [name, expected] : state_dict()) {
    expected_names.insert(name);
    const auto it = given.find(name);
    if (it == given.end()) {
      problems.push_back("'" + name + "' is missing");
    } else if (it->second.dtype() != expected.dtype() || it->second.shape() != expected.shape()) {
      problems.push_back(concat("'", name, "' is ", dtype_name(it->second.dtype()), " ", shape_str(it->second.shape()),
                                ", not ", dtype_name(expected.dtype()), " ", shape_str(expected.shape())));
    }
  }
  for (const auto& [name, tensor] : given) {
    if (!expected_names.count(name)) problems.push_back("'" + name + "' is unexpected");
  }
  if (!problems.empty()) {
    std::string list;
    for (size_t i = 0; i < problems.size() && i < 6; ++i) list += (i ? "; " : "") + problems[i];
    if (problems.size() > 6) list += concat(" (and ", problems.size() - 6, " more)");
    fail("LrSchedule.load_state_dict: the state does not match this schedule: ", list,
         ". It was saved with another schedule or other parameter groups; resume with the same --schedule");
  }
  restore(given);
  apply_lr();
}

}  // namespace graft::nn
