#pragma once
// Learning-rate schedules: torch.optim.lr_scheduler's StepLR, MultiStepLR, CosineAnnealingLR,
// OneCycleLR and ReduceLROnPlateau, plus a LinearLR warmup composed with them.
//
// A schedule sets each group's lr = initial_lr * factor (for cosine with eta_min and for
// one-cycle, the closed forms of torch relative to each group's initial_lr). It is driven by the
// training loop:
//   on_step() after every optimizer step; on_epoch_end(val_metric) at each epoch end
//   (val_metric = validation loss, used by reduce-on-plateau only).
// Epoch-based schedules (step, multistep, cosine, plateau) change the lr at epoch ends; one-cycle
// and the warmup change it after every step. The warmup factor multiplies the main schedule's lr:
//   lr = main_lr(epochs, steps) * warmup(steps),  warmup(k) = s + (1 - s) * min(k, W) / W,
// which is what torch gives for LinearLR chained with the others (with cosine's eta_min = 0).
//
// Every lr is computed from the counters (and plateau's state), not by repeated multiplication,
// so a schedule restored from its state dict sets exactly the lr the original would have.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim/optimizer.h"

namespace graft::nn {

// A linear warmup over the first `steps` optimizer steps, from start_factor to 1 (torch LinearLR
// stepped per batch). steps = 0: none. 0.01 is the start factor of torchvision's training recipes.
struct Warmup {
  int64_t steps = 0;
  double start_factor = 0.01;
};

// The base class holds the step and epoch counters and the warmup; its own main schedule is
// constant (lr = initial_lr * warmup). Constructing a schedule sets the groups' lrs at once.
class LrSchedule {
 public:
  explicit LrSchedule(Optimizer& optimizer, Warmup warmup = {});
  virtual ~LrSchedule() = default;
  LrSchedule(const LrSchedule&) = delete;
  LrSchedule& operator=(const LrSchedule&) = delete;

  virtual void on_step();
  virtual void on_epoch_end(double val_metric);

  // "schedule.steps" and "schedule.epochs" (i64 scalars) plus a schedule's own state (plateau:
  // "schedule.plateau.*"). load_state_dict checks the names and kinds match this schedule, then
  // restores the state and sets the lrs it implies.
  virtual StateDict state_dict() const;
  virtual void load_state_dict(const StateDict& state);

  int64_t steps() const { return steps_; }    // optimizer steps seen
  int64_t epochs() const { return epochs_; }  // epochs ended
  // The warmup's factor at the current step (1 without warmup or once it is over).
  double warmup_factor() const;

 protected:
  // The main schedule's lr for group `g` at the current counters, before the warmup factor.
  virtual double main_lr(size_t g) const;
  // Reads this schedule's own entries from a state whose names and kinds have been checked.
  virtual void restore(const std::map<std::string, Tensor>& state);
  // Sets every group's lr = main_lr * warmup_factor, then calls apply_momentum. Subclass
  // constructors call it last.
  void apply_lr();
  // Schedules that also drive the optimizer's momentum (one-cycle) set it here from the counters.
  virtual void apply_momentum() {}

  Optimizer& optimizer_;

 private:
  Warmup warmup_;
  int64_t steps_ = 0;
  int64_t epochs_ = 0;
};

// A parsed --schedule value.
struct ScheduleSpec {
  enum class Kind { constant, step, multistep, cosine, onecycle, plateau };
  Kind kind = Kind::constant;
  int64_t step_size = 0;            // step: epochs between decays
  std::vector<int64_t> milestones;  // multistep: the epochs after which the lr decays
  double gamma = 0.1;               // step, multistep: the decay factor
  double eta_min = 0;               // cosine: the lr reached after the last epoch
  double max_lr_factor = 1;         // onecycle: peak lr = initial_lr * max_lr_factor
  bool cycle_momentum = true;       // onecycle: momentum (or beta1) from 0.95 to 0.85 and back
  int64_t patience = 10;            // plateau: epochs without improvement before a decay
  double factor = 0.1;              // plateau: the decay factor
};

// The valid forms, for messages and help texts.
constexpr const char* kScheduleForms =
    "constant, step:EPOCHS[:GAMMA], multistep:E1,E2,...[:GAMMA], cosine[:ETA_MIN], "
    "onecycle[:MAX_LR_FACTOR[:lr-only]], plateau[:PATIENCE[:FACTOR]]";

// Parses "constant", "step:30:0.1" (every 30 epochs x0.1), "multistep:30,60:0.1", "cosine" (to 0
// over all epochs, stepped per epoch; "cosine:ETA_MIN" to that lr), "onecycle" /
// "onecycle:MAX_LR_FACTOR" (torch OneCycleLR stepped per batch, cycling the momentum too, as torch's
// default does; "onecycle:MAX_LR_FACTOR:lr-only" leaves the momentum alone, cycle_momentum=False),
// "plateau:PATIENCE:FACTOR" (ReduceLROnPlateau, mode min). GAMMA defaults to 0.1, PATIENCE to 10,
// FACTOR to 0.1. Errors name the bad spec and list the valid forms.
ScheduleSpec parse_schedule_spec(const std::string& spec);

// Builds the schedule `spec` describes for `optimizer`, with a linear warmup of `warmup_steps`
// optimizer steps (from warmup_start_factor to 1) composed multiplicatively. One-cycle has its own
// warmup, so warmup_steps > 0 with it is an Error.
std::unique_ptr<LrSchedule> make_schedule(const std::string& spec, Optimizer& optimizer,
                                          int64_t steps_per_epoch, int64_t epochs,
                                          int64_t warmup_steps = 0,
                                          double warmup_start_factor = Warmup{}.start_factor);
std::unique_ptr<LrSchedule> make_schedule(const ScheduleSpec& spec, Optimizer& optimizer,
                                          int64_t steps_per_epoch, int64_t epochs, Warmup warmup = {});

}  // namespace graft::nn
