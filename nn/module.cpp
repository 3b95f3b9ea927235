// Module tree mechanics: registration, traversal, modes, freezing, device moves, observers.
// Checkpoint loading and saving are in state_dict.cpp.
#include "nn/module.h"

#include <set>
#include <type_traits>

#include "core/error.h"

namespace graft::nn {
namespace {

thread_local ForwardObserver* active_observer = nullptr;

// "layer1" + "0" -> "layer1.0"; either part may be empty (the root module's name is "").
std::string join(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return name.empty() ? prefix : prefix + "." + name;
}

// Points every handle of `t` at a copy of its data on `device` (torch's `param.data = ...`).
void move_in_place(const Tensor& t, Device device) {
  if (!t.defined() || t.device() == device) return;
  const Tensor moved = t.detach().to(device);
  TensorImpl& impl = *t.raw_impl();
  impl.storage = moved.storage();
  impl.offset = moved.offset();
  impl.strides = moved.strides();
  if (impl.grad) move_in_place(Tensor(impl.grad), device);
}

// Keeps the first entry of each tensor or module registered under several names (a layer used
// twice), as torch does: an optimizer must not update a shared parameter twice.
template <class Item>
std::vector<std::pair<std::string, Item>> without_repeats(std::vector<std::pair<std::string, Item>> named) {
  std::set<const void*> seen;
  std::erase_if(named, [&](const auto& entry) {
    if constexpr (std::is_pointer_v<Item>) {
      return !seen.insert(entry.second).second;
    } else {
      return !seen.insert(entry.second.raw_impl()).second;
    }
  });
  return named;
}

}  // namespace

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (active_observer) active_observer->on_call_(*this, x, y);
  return y;
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->train(training);
}

template <class Visit>
void Module::visit_parameters(const std::string& prefix, Visit&& visit) const {
  for (const auto& [name, p] : parameters_) visit(join(prefix, name), p);
  for (const auto& [name, child] : children_) child->visit_parameters(join(prefix, name), visit);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  visit_parameters("", [&](const std::string& name, const Tensor& p) { out.emplace_back(name, p); });
  return without_repeats(std::move(out));
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters()) out.push_back(std::move(p));
  return out;
}

int64_t Module::parameter_count(bool trainable_only) const {
  int64_t count = 0;
  for (const auto& [name, p] : named_parameters()) {
    if (!trainable_only || p.requires_grad()) count += p.numel();
  }
  return count;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  for (const Buffer& b : buffers_) out.emplace_back(b.name, b.value);
  for (const auto& [name, child] : children_) {
    for (auto& [sub, value] : child->named_buffers()) out.emplace_back(join(name, sub), value);
  }
  return without_repeats(std::move(out));
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out = {{"", this}};
  for (auto& [name, child] : children_) {
    for (auto& [sub, module] : child->named_modules()) out.emplace_back(join(name, sub), module);
  }
  return without_repeats(std::move(out));
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  std::string available;
  for (const auto& [child_name, module] : children_) {
    if (child_name == name) return module;
    available += (available.empty() ? "" : ", ") + child_name;
  }
  fail(type_name(), " has no child module '", name, "'; its children are: ",
       available.empty() ? "(none)" : available);
}

void Module::set_requires_grad(bool requires_grad) {
  visit_parameters("", [&](const std::string&, Tensor p) { p.set_requires_grad(requires_grad); });
}

void Module::to(Device device) {
  for (const auto& [name, p] : parameters_) move_in_place(p, device);
  for (const Buffer& b : buffers_) {
    if (!b.options.stays_on_host) move_in_place(b.value, device);
  }
  for (auto& [name, child] : children_) child->to(device);
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [name, child] : children_) child->apply(fn);
  fn(*this);
}

void Module::check_new_name(const std::string& name) const {
  GRAFT_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(),
              ": a parameter, buffer or child name must be non-empty and contain no '.', got '", name, "'");
  bool taken = false;
  for (const auto& [n, p] : parameters_) taken |= n == name;
  for (const Buffer& b : buffers_) taken |= b.name == name;
  for (const auto& [n, c] : children_) taken |= n == name;
  GRAFT_CHECK(!taken, type_name(), ": the name '", name, "' is already registered");
}

Parameter Module::register_parameter(const std::string& name, const Tensor& value) {
  check_new_name(name);
  GRAFT_CHECK(value.defined(), type_name(), ": parameter '", name, "' is undefined");
  Parameter parameter(value);
  parameters_.emplace_back(name, parameter);
  return parameter;
}

Tensor Module::register_buffer(const std::string& name, const Tensor& value, BufferOptions options) {
  check_new_name(name);
  GRAFT_CHECK(value.defined(), type_name(), ": buffer '", name, "' is undefined");
  buffers_.push_back({name, value, options});
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  GRAFT_CHECK(module != nullptr, type_name(), ": child module '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

ForwardObserver::ForwardObserver(Callback on_call) : on_call_(std::move(on_call)), previous_(active_observer) {
  active_observer = this;
}

ForwardObserver::~ForwardObserver() { active_observer = previous_; }

}  // namespace graft::nn
