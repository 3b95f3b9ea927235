// make_param_groups: splits a model's trainable parameters into head/backbone and decay/no-decay
// groups by name and module type.
#include "nn/optim/param_groups.h"

#include <cmath>
#include <set>

#include "core/error.h"

namespace graft::nn {
namespace {

constexpr size_t kNamesShown = 6;

bool is_normalization_layer(const Module& module) {
  return module.type_name().find("Norm") != std::string::npos;
}

// The weights of every normalization layer under `module`.
void collect_normalization_weights(const Module& module, std::set<const TensorImpl*>& out) {
  if (is_normalization_layer(module)) {
    for (const auto& [name, param] : module.named_parameters()) {
      if (name == "weight") out.insert(param.raw_impl());
    }
  }
  for (const auto& [name, child] : module.named_children()) collect_normalization_weights(*child, out);
}

bool is_bias(const std::string& name) {
  return name == "bias" || (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0);
}

bool has_prefix(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::string some_names(const NamedTensors& params) {
  std::string out;
  for (size_t i = 0; i < params.size() && i < kNamesShown; ++i) out += (i ? ", " : "") + params[i].first;
  if (params.size() > kNamesShown) out += ", ...";
  return out;
}

void check_rate(double value, const char* what) {
  GRAFT_CHECK(std::isfinite(value) && value >= 0, "make_param_groups: ", what, " is ", value,
              "; it must be a finite number >= 0");
}

}  // namespace

std::vector<ParamGroup> make_param_groups(const Module& model, const ParamGroupOptions& options) {
  check_rate(options.lr, "lr");
  check_rate(options.weight_decay, "weight_decay");
  if (options.head_lr) {
    check_rate(*options.head_lr, "head_lr");
    GRAFT_CHECK(!options.head_prefixes.empty(), "make_param_groups: head_lr is set but no head prefix is "
                "given; name the head's parameters by prefix, e.g. {\"fc.\"} for ResNet, {\"classifier.6.\"} for VGG");
  }
  for (const std::string& prefix : options.head_prefixes) {
    GRAFT_CHECK(!prefix.empty(), "make_param_groups: an empty head prefix would match every parameter; "
                "use the head's name followed by a dot, e.g. \"fc.\"");
  }

  NamedTensors trainable;
  const NamedTensors all = model.named_parameters();
  for (const auto& named : all) {
    if (named.second.requires_grad()) trainable.push_back(named);
  }
  GRAFT_CHECK(!trainable.empty(), "make_param_groups: no parameter of the ", model.type_name(),
              " model is trainable (all ", all.size(), " are frozen); unfreeze the layers to train, e.g. the head");

  std::set<const TensorImpl*> normalization_weights;
  collect_normalization_weights(model, normalization_weights);

  ParamGroup backbone{.name = "backbone", .params = {}, .lr = options.lr, .weight_decay = options.weight_decay};
  ParamGroup no_decay{.name = "no_decay", .params = {}, .lr = options.lr, .weight_decay = 0};
  const double head_lr = options.head_lr.value_or(options.lr);
  ParamGroup head{.name = "head", .params = {}, .lr = head_lr, .weight_decay = options.weight_decay};
  ParamGroup head_no_decay{.name = "head_no_decay", .params = {}, .lr = head_lr, .weight_decay = 0};
  for (const auto& [name, param] : trainable) {
    const bool in_head = options.head_lr && has_prefix(name, options.head_prefixes);
    const bool exempt = options.no_decay_bn_and_bias &&
                        (is_bias(name) || normalization_weights.count(param.raw_impl()));
    ParamGroup& group = in_head ? (exempt ? head_no_decay : head) : (exempt ? no_decay : backbone);
    group.params.emplace_back(name, param);
  }
  if (options.head_lr) {
    GRAFT_CHECK(!head.params.empty() || !head_no_decay.params.empty(),
                "make_param_groups: no trainable parameter starts with a head prefix (", [&] {
                  std::string out;
                  for (const std::string& p : options.head_prefixes) out += (out.empty() ? "\"" : ", \"") + p + "\"";
                  return out;
                }(), "); trainable parameters are named like ", some_names(trainable));
  }

  std::vector<ParamGroup> groups;
  for (ParamGroup* group : {&backbone, &no_decay, &head, &head_no_decay}) {
    if (!group->params.empty()) groups.push_back(std::move(*group));
  }
  return groups;
}

}  // namespace graft::nn
