// Optimizer: parameter groups, the checked update loop shared by every optimizer, zero_grad, and
// the state dict (per-parameter buffers, step counts and the groups' learning rates).
#include "nn/optim/optimizer.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"

namespace graft::nn {
namespace {

constexpr size_t kProblemsShown = 6;
const std::string kGroupPrefix = "group.";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_group_settings(const ParamGroup& group, const std::string& where) {
  GRAFT_CHECK(std::isfinite(group.lr) && group.lr >= 0, where, ": group '", group.name,
              "' has learning rate ", group.lr, "; a learning rate must be a finite number >= 0");
  GRAFT_CHECK(std::isfinite(group.weight_decay) && group.weight_decay >= 0, where, ": group '", group.name,
              "' has weight decay ", group.weight_decay, "; weight decay must be a finite number >= 0");
}

// "a; b; c (and 2 more)".
std::string join_problems(const std::vector<std::string>& problems) {
  std::ostringstream out;
  for (size_t i = 0; i < problems.size() && i < kProblemsShown; ++i) out << (i ? "; " : "") << problems[i];
  if (problems.size() > kProblemsShown) out << " (and " << problems.size() - kProblemsShown << " more)";
  return out.str();
}

}  // namespace

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::string name, std::vector<std::string> slots,
                     bool counts_steps)
    : groups_(std::move(groups)), name_(std::move(name)), slots_(std::move(slots)), counts_steps_(counts_steps) {
  std::set<std::string> group_names, param_names;
  std::map<const TensorImpl*, std::string> seen;
  size_t count = 0;
  for (ParamGroup& group : groups_) {
    GRAFT_CHECK(!group.name.empty(), name_, ": a parameter group has no name; name each group (e.g. \"backbone\")");
    GRAFT_CHECK(group_names.insert(group.name).second, name_, ": two parameter groups are named '", group.name,
                "'; group names must be unique (they name the groups' entries in the state dict)");
    check_group_settings(group, name_);
    for (const auto& [param_name, param] : group.params) {
      const std::string where = concat(name_, ": parameter '", param_name, "' of group '", group.name, "'");
      GRAFT_CHECK(!param_name.empty(), name_, ": group '", group.name,
                  "' holds a parameter with an empty name; use its state-dict name");
      GRAFT_CHECK(param.defined(), where, " is an undefined tensor");
      GRAFT_CHECK(param.is_leaf(), where, " is not a leaf (it was computed by an op); optimize the leaf tensors "
                  "that hold the weights, e.g. model.named_parameters()");
      GRAFT_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, where, " has dtype ",
                  dtype_name(param.dtype()), "; optimizers update float32 or float64 parameters");
      GRAFT_CHECK(param.is_contiguous(), where, " is not contiguous (shape ", shape_str(param.shape()),
                  ", strides ", shape_str(param.strides()), "); updates run in place over contiguous data");
      GRAFT_CHECK(param_names.insert(param_name).second, name_, ": the parameter name '", param_name,
                  "' appears twice; names must be unique (they name the parameter's state)");
      const auto [it, fresh] = seen.emplace(param.raw_impl(), param_name);
      GRAFT_CHECK(fresh, where, " is the same tensor as parameter '", it->second,
                  "'; each parameter may appear in one group only");
      ++count;
    }
    group.initial_lr = group.lr;
    state_.emplace_back(group.params.size());
  }
  GRAFT_CHECK(count > 0, name_, ": no parameters to optimize; if the whole model is frozen, unfreeze the "
              "layers to train (e.g. the head) first");
}

void Optimizer::zero_grad() {
  for (const ParamGroup& group : groups_) {
    for (const auto& [name, param] : group.params) param.set_grad(Tensor());
  }
}

void Optimizer::set_cycled_momentum(double value) {
  fail(name_, ": has no momentum to set (to ", value, ")");
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (const ParamGroup& group : groups_) {
    for (const auto& [name, param] : group.params) out.push_back(param);
  }
  return out;
}

void Optimizer::check_parameters_unchanged(const std::string& where) const {
  bool unchanged = groups_.size() == state_.size();
  for (size_t g = 0; unchanged && g < groups_.size(); ++g) unchanged = groups_[g].params.size() == state_[g].size();
  GRAFT_CHECK(unchanged, where, ": parameter groups were added, removed or resized after the optimizer was "
              "created; create a new optimizer over the new groups instead");
}

void Optimizer::for_each_update(const std::function<void(const Update&)>& update) {
  const std::string where = name_ + ".step";
  check_parameters_unchanged(where);
  for (const ParamGroup& group : groups_) {
    check_group_settings(group, where);
    for (const auto& [name, param] : group.params) {
      const Tensor grad = param.grad();
      if (!grad.defined()) continue;
      GRAFT_CHECK(grad.device() == param.device(), where, ": the gradient of '", name, "' is on ",
                  grad.device().str(), " but the parameter is on ", param.device().str());
      GRAFT_CHECK(grad.dtype() == param.dtype(), where, ": the gradient of '", name, "' has dtype ",
                  dtype_name(grad.dtype()), " but the parameter has ", dtype_name(param.dtype()));
      GRAFT_CHECK(grad.shape() == param.shape(), where, ": the gradient of '", name, "' has shape ",
                  shape_str(grad.shape()), " but the parameter has ", shape_str(param.shape()));
      GRAFT_CHECK(param.is_contiguous(), where, ": parameter '", name,
                  "' is no longer contiguous; updates run in place over contiguous data");
    }
  }

  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    for (size_t p = 0; p < group.params.size(); ++p) {
      const Tensor& param = group.params[p].second;
      if (!param.grad().defined()) continue;
      const Tensor grad = param.grad().contiguous();
      ParamState& state = state_[g][p];
      const bool first = state.buffers.size() != slots_.size();
      if (first) {
        state.buffers.clear();
        for (size_t s = 0; s < slots_.size(); ++s) {
          state.buffers.push_back(Tensor::zeros(param.shape(), param.dtype(), param.device()));
        }
      }
      if (counts_steps_) ++state.step;
      update({group, param, grad, state, first});
    }
  }
}

StateDict Optimizer::state_dict() const {
  check_parameters_unchanged(name_ + ".state_dict");
  StateDict out;
  for (const ParamGroup& group : groups_) {
    out.emplace_back(kGroupPrefix + group.name + ".lr", Tensor::scalar(group.lr, DType::f64));
    out.emplace_back(kGroupPrefix + group.name + ".initial_lr", Tensor::scalar(group.initial_lr, DType::f64));
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t p = 0; p < groups_[g].params.size(); ++p) {
      const std::string& name = groups_[g].params[p].first;
      const ParamState& state = state_[g][p];
      if (state.buffers.size() != slots_.size() || slots_.empty()) continue;
      for (size_t s = 0; s < slots_.size(); ++s) out.emplace_back(name + "." + slots_[s], state.buffers[s].detach());
      if (counts_steps_) out.emplace_back(name + ".step", Tensor::scalar(static_cast<double>(state.step), DType::i64));
    }
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  const std::string where = name_ + ".load_state_dict";
  check_parameters_unchanged(where);
  std::map<std::string, size_t> group_index;
  std::map<std::string, std::pair<size_t, size_t>> param_index;
  for (size_t g = 0; g < groups_.size(); ++g) {
    group_index[groups_[g].name] = g;
    for (size_t p = 0; p < groups_[g].params.size(); ++p) param_index[groups_[g].params[p].first] = {g, p};
  }
  std::vector<std::string> slot_suffixes = slots_;
  if (counts_steps_) slot_suffixes.push_back("step");

  // What the state holds, before anything is changed.
  struct Loaded {
    std::map<std::string, const Tensor*> slots;  // slot (or "step") -> tensor
  };
  std::vector<std::vector<Loaded>> loaded(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) loaded[g].resize(groups_[g].params.size());
  std::vector<std::map<std::string, double>> group_values(groups_.size());
  std::vector<std::string> problems, unexpected;
  std::set<std::string> names;

  for (const auto& [key, tensor] : state) {
    if (!names.insert(key).second) {
      problems.push_back(concat("'", key, "' appears twice"));
      continue;
    }
    if (!tensor.defined()) {
      problems.push_back(concat("'", key, "' is an undefined tensor"));
      continue;
    }
    if (key.rfind(kGroupPrefix, 0) == 0) {
      const std::string rest = key.substr(kGroupPrefix.size());
      const size_t dot = rest.rfind('.');
      const std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
      const auto group = dot == std::string::npos ? group_index.end() : group_index.find(rest.substr(0, dot));
      if (group != group_index.end() && (field == "lr" || field == "initial_lr")) {
        if (tensor.numel() != 1 || !is_floating(tensor.dtype())) {
          problems.push_back(concat("'", key, "' should hold one floating-point number, not ",
                                    dtype_name(tensor.dtype()), " ", shape_str(tensor.shape())));
        } else if (const double value = tensor.item(); !(std::isfinite(value) && value >= 0)) {
          problems.push_back(concat("'", key, "' is ", value, ", not a learning rate >= 0"));
        } else {
          group_values[group->second][field] = value;
        }
        continue;
      }
    }
    bool matched = false;
    for (const std::string& slot : slot_suffixes) {
      if (!ends_with(key, "." + slot)) continue;
      const auto param = param_index.find(key.substr(0, key.size() - slot.size() - 1));
      if (param == param_index.end()) continue;
      matched = true;
      const auto [g, p] = param->second;
      const Tensor& target = groups_[g].params[p].second;
      if (slot == "step") {
        if (tensor.numel() != 1 || tensor.dtype() != DType::i64 || tensor.item() < 1) {
          problems.push_back(concat("'", key, "' should be an int64 step count >= 1, not ",
                                    dtype_name(tensor.dtype()), " ", shape_str(tensor.shape())));
        }
      } else if (tensor.shape() != target.shape() || !is_floating(tensor.dtype())) {
        problems.push_back(concat("'", key, "' has ", dtype_name(tensor.dtype()), " ", shape_str(tensor.shape()),
                                  " but the parameter is ", dtype_name(target.dtype()), " ",
                                  shape_str(target.shape())));
      }
      loaded[g][p].slots[slot] = &tensor;
      break;
    }
    if (!matched) unexpected.push_back(key);
  }

  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const char* field : {"lr", "initial_lr"}) {
      if (!group_values[g].count(field)) {
        problems.push_back(concat("'", kGroupPrefix, groups_[g].name, ".", field, "' is missing"));
      }
    }
    for (size_t p = 0; p < groups_[g].params.size(); ++p) {
      const auto& slots = loaded[g][p].slots;
      if (slots.empty() || slots.size() == slot_suffixes.size()) continue;
      std::string absent;
      for (const std::string& slot : slot_suffixes) {
        if (!slots.count(slot)) absent += (absent.empty() ? "" : ", ") + slot;
      }
      problems.push_back(concat("parameter '", groups_[g].params[p].first, "' lacks ", absent));
    }
  }
  if (!unexpected.empty()) {
    problems.push_back(concat(unexpected.size(), " unexpected entr", unexpected.size() == 1 ? "y" : "ies",
                              " (not a parameter of this ", name_, " with these options, nor a group): '",
                              unexpected.front(), "'", unexpected.size() > 1 ? ", ..." : ""));
  }
  GRAFT_CHECK(problems.empty(), where, ": the state does not match this optimizer: ", join_problems(problems),
              ". It was saved by another optimizer, other options (momentum, amsgrad) or other parameter "
              "groups; create the optimizer as it was when the state was saved");

  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = group_values[g].at("lr");
    groups_[g].initial_lr = group_values[g].at("initial_lr");
    for (size_t p = 0; p < groups_[g].params.size(); ++p) {
      const Tensor& param = groups_[g].params[p].second;
      const auto& slots = loaded[g][p].slots;
      ParamState& target = state_[g][p];
      target = ParamState{};
      if (slots.empty()) continue;
      for (const std::string& slot : slots_) {
        Tensor buffer = Tensor::empty(param.shape(), param.dtype(), param.device());
        buffer.copy_(*slots.at(slot));
        target.buffers.push_back(buffer);
      }
      if (counts_steps_) target.step = static_cast<int64_t>(slots.at("step")->item());
    }
  }
}

}  // namespace graft::nn
