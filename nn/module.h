#pragma once
// Module: the building block of networks, as torch.nn.Module. A module owns named parameters
// (trainable tensors), named buffers (state such as batch norm's running statistics) and named
// child modules, all in registration order. Names compose with dots into torchvision's
// state-dict keys: "layer1.0.conv1.weight", "bn1.running_mean".
//
// A module calls its children through operator() (not forward()) so that a ForwardObserver sees
// every call; the model summary relies on it.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"
#include "nn/parameter.h"

namespace graft::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// Ordered name -> tensor, the layout safetensors::read returns and safetensors::write takes.
using StateDict = NamedTensors;

// What load_state_dict found. Tensors listed here were not loaded.
struct LoadReport {
  struct ShapeMismatch {
    std::string name;
    Shape expected;  // the model's
    Shape got;       // the checkpoint's
  };
  std::vector<std::string> missing;     // in the model, absent from the checkpoint
  std::vector<std::string> unexpected;  // in the checkpoint, absent from the model
  std::vector<ShapeMismatch> shape_mismatched;

  bool ok() const { return missing.empty() && unexpected.empty() && shape_mismatched.empty(); }
  // One line per non-empty category, each with its count and the first few names.
  std::string str() const;
};

struct BufferOptions {
  // Checkpoints may lack this buffer (e.g. num_batches_tracked, which torchvision's published
  // ImageNet checkpoints predate); when absent, load_state_dict keeps the current value and
  // does not report it missing.
  bool may_be_absent_from_checkpoints = false;
  // A counter the host reads at every step (num_batches_tracked): to() leaves it in host memory,
  // where reading and updating it never waits for a GPU.
  bool stays_on_host = false;
};

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& x) = 0;
  // torch.nn's class name of this module: "Conv2d", "BatchNorm2d", "Sequential", ...
  virtual std::string type_name() const = 0;
  // Floating-point operations of one call that produced `output` from `input` (multiply-adds
  // count 2); 0 for layers whose cost is negligible next to convolutions and matrix products.
  virtual int64_t flops(const Shape& input, const Shape& output) const { return 0; }

  // Runs forward() and reports the call to the thread's ForwardObserver, if any.
  Tensor operator()(const Tensor& x);

  // ---- mode
  // Training mode (the default) or evaluation mode, for this module and all its descendants.
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- parameters, buffers, children (recursive lists are pre-order: a module's own entries,
  // then each child's, in registration order, with dotted names). A tensor or module reachable
  // under several names (a layer used twice) is listed once, under the first, as in torch.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  // This module first, named "", then every descendant.
  std::vector<std::pair<std::string, Module*>> named_modules();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // The child called `name`; an Error listing the children when absent.
  std::shared_ptr<Module> child(const std::string& name) const;
  // Number of scalars in all parameters (only those that require grad when trainable_only).
  int64_t parameter_count(bool trainable_only = false) const;

  // ---- whole-tree operations
  // Freezes (false) or unfreezes (true) every parameter of this module and its descendants.
  void set_requires_grad(bool requires_grad);
  // Moves every parameter, buffer (except those that stay on the host) and gradient to `device` in
  // place: tensor handles taken earlier (e.g. by an optimizer) stay valid and see the moved data.
  void to(Device device);
  // Calls fn on every descendant, children before parents, then on this module (torch's apply).
  void apply(const std::function<void(Module&)>& fn);

  // ---- checkpoints
  // Parameters and buffers, detached but sharing storage, in torch's order (per module: its
  // parameters, its buffers, then its children).
  StateDict state_dict() const;
  // state_dict() with every tensor copied: a snapshot that later training does not change (the
  // best epoch's weights, the weights to restore after an experiment).
  StateDict state_dict_copy() const;
  // Copies matching tensors into this module (converting dtype and device). Missing, unexpected
  // and shape-mismatched names are reported and skipped; with strict, any of them raises an
  // Error listing them and nothing is copied.
  LoadReport load_state_dict(const StateDict& source, bool strict = true);

 protected:
  // The returned handle aliases the registered tensor: keep it as the layer's member, and change
  // values in place (copy_, fill_) rather than by assignment.
  Parameter register_parameter(const std::string& name, const Tensor& value);
  Tensor register_buffer(const std::string& name, const Tensor& value, BufferOptions options = {});
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  struct Buffer {
    std::string name;
    Tensor value;
    BufferOptions options;
  };
  // One entry of the state dict, with whether checkpoints may lack it.
  struct StateEntry {
    std::string name;
    Tensor value;
    bool may_be_absent;
  };

  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void collect_state(const std::string& prefix, std::vector<StateEntry>& out) const;
  template <class Visit>
  void visit_parameters(const std::string& prefix, Visit&& visit) const;

  std::vector<std::pair<std::string, Parameter>> parameters_;
  std::vector<Buffer> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// While alive, every Module::operator() call on this thread is reported to `on_call` (module,
// input, output) after it returns. Observers nest: the newest one is active.
class ForwardObserver {
 public:
  using Callback = std::function<void(const Module&, const Tensor& input, const Tensor& output)>;
  explicit ForwardObserver(Callback on_call);
  ~ForwardObserver();
  ForwardObserver(const ForwardObserver&) = delete;
  ForwardObserver& operator=(const ForwardObserver&) = delete;

 private:
  friend class Module;
  Callback on_call_;
  ForwardObserver* previous_;
};

}  // namespace graft::nn
