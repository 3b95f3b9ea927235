#pragma once
// Optimizers with torch.optim's update rules: SGD (momentum, dampening, Nesterov, L2 weight decay),
// Adam (L2 weight decay added to the gradient, AMSGrad) and AdamW (decoupled weight decay).
//
// Parameters come in named groups, each with its own learning rate and weight decay (a head that
// learns faster than the pretrained backbone; biases and batch-norm weights without decay). A
// schedule (nn/optim/lr_schedule.h) changes a group's lr between steps; initial_lr keeps the
// value it scales.
//
// An update is an in-place loop over the parameter's contiguous data (kernels/optim.h), in the
// parameter's dtype, following the order of operations of torch's single-tensor path so that a
// run matches torch's to float rounding. Per-parameter buffers (momentum, moments) are created at
// a parameter's first update, as torch does, so parameters that never get a gradient hold no state.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace graft::nn {

struct ParamGroup {
  std::string name;                                    // "head", "backbone", "no_decay", ...
  std::vector<std::pair<std::string, Tensor>> params;  // (state-dict name, parameter)
  double lr = 0;
  double weight_decay = 0;
  double initial_lr = 0;  // set by the constructor of an optimizer to lr; schedules scale it
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters whose grad() is undefined are
  // skipped, as torch does). Runs under NoGradGuard, in place (handles stay valid). Everything is
  // checked before anything is updated: an Error leaves parameters and state untouched.
  virtual void step() = 0;
  // Gradients become undefined (torch's zero_grad(set_to_none=True)).
  void zero_grad();

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Every parameter of every group, in group order (e.g. for clip_grad_norm).
  std::vector<Tensor> parameters() const;
  // torch's class name: "SGD", "Adam", "AdamW".
  const std::string& name() const { return name_; }

  // The coefficient torch's OneCycleLR cycles along with the lr: SGD's momentum, Adam's beta1.
  // None for an optimizer without one (SGD built with momentum 0 keeps no momentum buffers).
  virtual std::optional<double> cycled_momentum() const { return std::nullopt; }
  // Sets it for every group from the next step on; an Error where cycled_momentum() is none.
  virtual void set_cycled_momentum(double value);

  // Everything needed to resume bit-identically: per-parameter buffers named "<param>.<slot>"
  // ("fc.weight.momentum_buffer", "fc.weight.exp_avg", ...), Adam's per-parameter step counts
  // "<param>.step" (i64 scalars), and each group's "group.<name>.lr" and "group.<name>.initial_lr"
  // (f64 scalars). Buffers alias the optimizer's own: save them before the next step.
  virtual StateDict state_dict() const;
  // Checks every name, shape and dtype first and raises one Error listing what does not match
  // (nothing is loaded then); otherwise copies the state in. Parameters absent from `state` start
  // afresh, as ones that never had a gradient.
  virtual void load_state_dict(const StateDict& state);

 protected:
  // A parameter's state: one buffer per slot (empty until its first update) and, for optimizers
  // that count steps per parameter, how many updates it has had.
  struct ParamState {
    std::vector<Tensor> buffers;
    int64_t step = 0;
  };
  // What an update sees: the group's settings, the parameter, its gradient (contiguous, same dtype
  // and shape), its state (buffers allocated and zeroed, step already counted) and whether this is
  // its first update.
  struct Update {
    const ParamGroup& group;
    const Tensor& param;
    const Tensor& grad;
    ParamState& state;
    bool first;
  };

  // Checks the groups (unique names, lr and weight decay >= 0, parameters that are contiguous
  // f32/f64 leaves, each in one group only) and sets each initial_lr to its lr.
  Optimizer(std::vector<ParamGroup> groups, std::string name, std::vector<std::string> slots,
            bool counts_steps);
  // Checks every parameter that has a gradient, then calls `update` for each, under NoGradGuard.
  void for_each_update(const std::function<void(const Update&)>& update);

 private:
  // groups() is mutable so that lrs can be changed; parameters added or removed afterwards would
  // have no state: an Error naming `where` says to build a new optimizer.
  void check_parameters_unchanged(const std::string& where) const;

  std::vector<ParamGroup> groups_;
  std::string name_;
  std::vector<std::string> slots_;  // names of the per-parameter buffers, e.g. {"exp_avg", "exp_avg_sq"}
  bool counts_steps_;
  std::vector<std::vector<ParamState>> state_;  // [group][parameter]
};

struct SgdOptions {
  double momentum = 0, dampening = 0;
  bool nesterov = false;
};

// torch.optim.SGD. Slot: momentum_buffer (only with momentum), set to the first gradient.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParamGroup> groups, SgdOptions options = {});
  void step() override;
  const SgdOptions& options() const { return options_; }
  std::optional<double> cycled_momentum() const override;
  void set_cycled_momentum(double value) override;

 private:
  SgdOptions options_;
};

struct AdamOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;
};

// torch.optim.Adam: L2 weight decay added to the gradient. Slots: exp_avg, exp_avg_sq and, with
// amsgrad, max_exp_avg_sq; a step count per parameter.
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
  void step() override;
  const AdamOptions& options() const { return options_; }
  std::optional<double> cycled_momentum() const override { return options_.beta1; }
  void set_cycled_momentum(double value) override;

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions options, bool decoupled_weight_decay, std::string name);

 private:
  AdamOptions options_;
  bool decoupled_weight_decay_;
};

// torch.optim.AdamW: decoupled weight decay, param *= 1 - lr * weight_decay before the Adam update.
class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamOptions options = {});
};

// Scales all gradients so that their global L2 norm is at most max_norm; returns the norm before
// clipping (torch.nn.utils.clip_grad_norm_, including its 1e-6 in the divisor). Parameters without
// a gradient are skipped; with none, the norm is 0.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace graft::nn
