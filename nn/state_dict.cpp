// Module::state_dict and Module::load_state_dict, and the load report.
#include <map>
#include <set>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "nn/module.h"

namespace graft::nn {
namespace {

constexpr size_t kNamesShown = 5;

// "3 missing: a, b, c" with at most kNamesShown names and "(and N more)".
template <class Item, class Describe>
void describe_category(std::ostringstream& out, const std::vector<Item>& items, const char* what,
                       Describe&& describe) {
  if (items.empty()) return;
  if (out.tellp() > 0) out << "; ";
  out << items.size() << " " << what << ": ";
  for (size_t i = 0; i < items.size() && i < kNamesShown; ++i) out << (i ? ", " : "") << describe(items[i]);
  if (items.size() > kNamesShown) out << " (and " << items.size() - kNamesShown << " more)";
}

}  // namespace

std::string LoadReport::str() const {
  std::ostringstream out;
  const auto name = [](const std::string& n) { return n; };
  describe_category(out, missing, "missing from the checkpoint", name);
  describe_category(out, unexpected, "unexpected in the checkpoint", name);
  describe_category(out, shape_mismatched, "with mismatched shapes", [](const ShapeMismatch& m) {
    return concat(m.name, " (model ", shape_str(m.expected), ", checkpoint ", shape_str(m.got), ")");
  });
  return ok() ? "all tensors matched" : out.str();
}

void Module::collect_state(const std::string& prefix, std::vector<StateEntry>& out) const {
  const auto full = [&](const std::string& name) { return prefix.empty() ? name : prefix + "." + name; };
  for (const auto& [name, p] : parameters_) out.push_back({full(name), p, false});
  for (const Buffer& b : buffers_) out.push_back({full(b.name), b.value, b.options.may_be_absent_from_checkpoints});
  for (const auto& [name, child] : children_) child->collect_state(full(name), out);
}

StateDict Module::state_dict() const {
  std::vector<StateEntry> entries;
  collect_state("", entries);
  StateDict out;
  out.reserve(entries.size());
  for (const StateEntry& e : entries) out.emplace_back(e.name, e.value.detach());
  return out;
}

LoadReport Module::load_state_dict(const StateDict& source, bool strict) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, tensor] : source) {
    GRAFT_CHECK(given.emplace(name, &tensor).second, "load_state_dict: the checkpoint holds '", name, "' twice");
    GRAFT_CHECK(tensor.defined(), "load_state_dict: the checkpoint's tensor '", name, "' is undefined");
  }

  std::vector<StateEntry> targets;
  collect_state("", targets);
  LoadReport report;
  std::vector<std::pair<const Tensor*, const Tensor*>> copies;  // (destination, source)
  std::set<std::string> known;
  for (const StateEntry& target : targets) {
    known.insert(target.name);
    const auto it = given.find(target.name);
    if (it == given.end()) {
      if (!target.may_be_absent) report.missing.push_back(target.name);
    } else if (it->second->shape() != target.value.shape()) {
      report.shape_mismatched.push_back({target.name, target.value.shape(), it->second->shape()});
    } else {
      copies.emplace_back(&target.value, it->second);
    }
  }
  for (const auto& [name, tensor] : source) {
    if (!known.count(name)) report.unexpected.push_back(name);
  }

  GRAFT_CHECK(!strict || report.ok(), "load_state_dict: the checkpoint does not match the ", type_name(),
              " model: ", report.str(), ". Fix the model options (e.g. num_classes) or load with strict=false "
              "to copy only the matching tensors");
  NoGradGuard no_grad;
  for (const auto& [destination, value] : copies) destination->copy_(*value);
  return report;
}

}  // namespace graft::nn
