// Selectors, freeze/unfreeze, frozen batch-norm statistics and the trainability summary.
// Selecting is read-only and complete before any flag changes, so a bad selector in a list
// leaves the model as it was.
#include "nn/freeze.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>
#include <sstream>

#include "core/error.h"

namespace graft::nn {
namespace {

constexpr const char* kBefore = "before:";
constexpr const char* kType = "type:";

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string joined(const std::vector<std::string>& items, size_t limit = 12) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > limit) out += ", ... (" + std::to_string(items.size()) + " in all)";
  return out.empty() ? "(none)" : out;
}

// Where the class starting at pattern[open] == '[' ends (the index of its ']'); an Error if never.
size_t class_end(const std::string& pattern, size_t open) {
  size_t i = open + 1;
  if (i < pattern.size() && pattern[i] == '!') ++i;
  if (i < pattern.size() && pattern[i] == ']') ++i;  // a ']' first in the class is literal
  while (i < pattern.size() && pattern[i] != ']') ++i;
  GRAFT_CHECK(i < pattern.size(), "freeze selector '", pattern, "': the '[' at position ", open,
              " is never closed; end the character class with ']'");
  return i;
}

// Whether c is in the class pattern[open..close] ("[abc]", "[a-z]", "[!a]").
bool class_matches(const std::string& pattern, size_t open, size_t close, char c) {
  size_t i = open + 1;
  const bool negated = pattern[i] == '!' && i + 1 < close;
  if (negated) ++i;
  bool found = false;
  for (; i < close; ++i) {
    if (i + 2 < close && pattern[i + 1] == '-') {
      found |= pattern[i] <= c && c <= pattern[i + 2];
      i += 2;
    } else {
      found |= pattern[i] == c;
    }
  }
  return found != negated;
}

// "a,b,[1,2]" -> "a", "b", "[1,2]": commas inside a character class do not split. Pieces are
// trimmed; an empty one is an Error.
std::vector<std::string> split_selectors(const std::vector<std::string>& selectors) {
  std::vector<std::string> out;
  for (const std::string& entry : selectors) {
    std::string piece;
    bool in_class = false;
    const auto finish = [&] {
      const size_t first = piece.find_first_not_of(" \t"), last = piece.find_last_not_of(" \t");
      GRAFT_CHECK(first != std::string::npos, "freeze selectors '", entry,
                  "' contain an empty selector; separate selectors with single commas");
      out.push_back(piece.substr(first, last - first + 1));
      piece.clear();
    };
    for (const char c : entry) {
      if (c == ',' && !in_class) {
        finish();
        continue;
      }
      if (c == '[') in_class = true;
      if (c == ']') in_class = false;
      piece += c;
    }
    finish();
  }
  GRAFT_CHECK(!out.empty(), "freeze: no selector given; pass globs such as 'conv1.*', 'before:NAME' or 'type:TYPE'");
  return out;
}

// Calls visit(module) on `module` and every descendant, pre-order.
void visit_modules(const Module& module, const std::function<void(const Module&)>& visit) {
  visit(module);
  for (const auto& [name, child] : module.named_children()) visit_modules(*child, visit);
}

// "layer1.0.conv1.weight" -> "layer1"; a module's own parameter ("scale") -> "".
std::string top_level_child(const std::string& parameter_name) {
  const size_t dot = parameter_name.find('.');
  return dot == std::string::npos ? "" : parameter_name.substr(0, dot);
}

std::vector<std::string> children_names(const Module& model) {
  std::vector<std::string> names;
  for (const auto& [name, child] : model.named_children()) names.push_back(name);
  return names;
}

std::vector<std::string> select_before(const Module& model, const std::string& selector) {
  const std::string child = selector.substr(std::string(kBefore).size());
  const std::vector<std::string> children = children_names(model);
  const auto position = std::find(children.begin(), children.end(), child);
  GRAFT_CHECK(position != children.end(), "freeze selector '", selector, "': '", child,
              "' is not a top-level child of ", model.type_name(), "; its children are: ", joined(children, 100));
  const std::set<std::string> earlier(children.begin(), position);
  std::vector<std::string> picked;
  for (const auto& [name, p] : model.named_parameters()) {
    const std::string owner = top_level_child(name);
    if (owner.empty() || earlier.count(owner)) picked.push_back(name);
  }
  GRAFT_CHECK(!picked.empty(), "freeze selector '", selector, "' picks no parameter: no top-level child before '",
              child, "' has any; the children in order are: ", joined(children, 100));
  return picked;
}

std::vector<std::string> select_type(const Module& model, const std::string& selector) {
  const std::string type = selector.substr(std::string(kType).size());
  std::vector<std::string> types;
  std::set<const void*> owned;  // parameters of the modules of that type
  visit_modules(model, [&](const Module& module) {
    if (std::find(types.begin(), types.end(), module.type_name()) == types.end()) types.push_back(module.type_name());
    if (module.type_name() != type) return;
    for (const auto& [name, p] : module.named_parameters()) owned.insert(p.raw_impl());
  });
  GRAFT_CHECK(std::find(types.begin(), types.end(), type) != types.end(), "freeze selector '", selector,
              "': no module of type '", type, "' in ", model.type_name(),
              "; the types present are: ", joined(types, 100));
  std::vector<std::string> picked;
  for (const auto& [name, p] : model.named_parameters()) {
    if (owned.count(p.raw_impl())) picked.push_back(name);
  }
  GRAFT_CHECK(!picked.empty(), "freeze selector '", selector, "' picks no parameter: the ", type,
              " modules have none; the types present are: ", joined(types, 100));
  return picked;
}

std::vector<std::string> select_glob(const Module& model, const std::string& pattern) {
  std::vector<std::string> picked, all;
  for (const auto& [name, p] : model.named_parameters()) {
    all.push_back(name);
    if (glob_match(pattern, name)) picked.push_back(name);
  }
  if (!picked.empty()) return picked;
  std::string hint;
  const bool names_a_module =
      std::any_of(all.begin(), all.end(), [&](const std::string& name) { return glob_match(pattern + ".*", name); });
  if (names_a_module) hint = "; to pick a module's parameters add '.*': '" + pattern + ".*'";
  fail("freeze selector '", pattern, "' matches no parameter of ", model.type_name(), hint,
       ". Names are matched whole, for example: ", joined(all, 6), "; top-level children: ",
       joined(children_names(model), 100), ". Use 'before:CHILD' or 'type:TYPE' to pick by position or layer type.");
}

// Selects with every selector first, then sets requires_grad on the union of the picks.
std::vector<std::string> set_trainable(Module& model, const std::vector<std::string>& selectors, bool trainable) {
  std::set<std::string> chosen;
  for (const std::string& selector : split_selectors(selectors)) {
    for (std::string& name : select_parameters(model, selector)) chosen.insert(std::move(name));
  }
  std::vector<std::string> changed;
  for (auto& [name, p] : model.named_parameters()) {
    if (!chosen.count(name)) continue;
    p.set_requires_grad(trainable);
    changed.push_back(name);
  }
  return changed;
}

bool affine_frozen(const BatchNorm2d& bn) {
  return !bn.options().affine || (!bn.weight().requires_grad() && !bn.bias().requires_grad());
}

// 25557032 -> "25,557,032"
std::string grouped(int64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& name) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '[') i = class_end(pattern, i);
  }
  // Greedy with backtracking to the last '*': every other token matches exactly one character,
  // so retrying the last star with one more character is enough.
  size_t p = 0, n = 0;
  size_t star = std::string::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
      continue;
    }
    if (p < pattern.size()) {
      const char c = name[n];
      if (pattern[p] == '[') {
        const size_t close = class_end(pattern, p);
        if (class_matches(pattern, p, close, c)) {
          p = close + 1;
          ++n;
          continue;
        }
      } else if (pattern[p] == '?' || pattern[p] == c) {
        ++p;
        ++n;
        continue;
      }
    }
    if (star == std::string::npos) return false;
    p = star + 1;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string> select_parameters(const Module& model, const std::string& selector) {
  GRAFT_CHECK(!selector.empty(), "freeze: empty selector; pass a glob such as 'conv1.*', 'before:NAME' or 'type:TYPE'");
  if (starts_with(selector, kBefore)) return select_before(model, selector);
  if (starts_with(selector, kType)) return select_type(model, selector);
  return select_glob(model, selector);
}

std::vector<std::string> freeze(Module& model, const std::vector<std::string>& selectors) {
  return set_trainable(model, selectors, false);
}

std::vector<std::string> unfreeze(Module& model, const std::vector<std::string>& selectors) {
  return set_trainable(model, selectors, true);
}

int64_t freeze_bn_stats(Module& model) {
  int64_t count = 0;
  for (const auto& [name, module] : model.named_modules()) {
    auto* bn = dynamic_cast<BatchNorm2d*>(module);
    if (!bn || !bn->options().track_running_stats || !affine_frozen(*bn)) continue;
    bn->set_stats_frozen(true);
    ++count;
  }
  return count;
}

void freeze_batch_norm(BatchNorm2d& bn) {
  bn.set_stats_frozen(true);
  bn.set_requires_grad(false);
}

std::string trainability_summary(const Module& model) {
  struct Counts {
    std::string child;
    int64_t trainable = 0, frozen = 0;
  };
  std::vector<Counts> rows;  // in state-dict order; "" holds the model's own parameters
  int64_t trainable = 0, frozen = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    const std::string child = top_level_child(name);
    if (rows.empty() || rows.back().child != child) rows.push_back({child});
    (p.requires_grad() ? rows.back().trainable : rows.back().frozen) += p.numel();
    (p.requires_grad() ? trainable : frozen) += p.numel();
  }
  int64_t batch_norms = 0, stats_frozen = 0;
  visit_modules(model, [&](const Module& module) {
    const auto* bn = dynamic_cast<const BatchNorm2d*>(&module);
    if (!bn || !bn->options().track_running_stats) return;
    ++batch_norms;
    stats_frozen += bn->stats_frozen();
  });

  std::ostringstream out;
  const int64_t total = trainable + frozen;
  char line[160];
  std::snprintf(line, sizeof line, "%s trainable, %s frozen of %s parameters (%.1f%% trainable)\n",
                grouped(trainable).c_str(), grouped(frozen).c_str(), grouped(total).c_str(),
                total ? 100.0 * static_cast<double>(trainable) / static_cast<double>(total) : 0.0);
  out << line;
  for (const Counts& row : rows) {
    const char* state = row.frozen == 0 ? "trainable" : row.trainable == 0 ? "frozen" : "partly frozen";
    std::snprintf(line, sizeof line, "  %-16s %14s trainable %14s frozen   %s\n",
                  row.child.empty() ? "(own)" : row.child.c_str(), grouped(row.trainable).c_str(),
                  grouped(row.frozen).c_str(), state);
    out << line;
  }
  if (batch_norms > 0) {
    out << "batch norm statistics: " << stats_frozen << " of " << batch_norms << " layers frozen\n";
  }
  return out.str();
}

}  // namespace graft::nn
