#pragma once
// The main schedules behind make_schedule, each torch.optim.lr_scheduler's closed form (with
// torch's defaults where the spec does not set a value). See nn/optim/lr_schedule.h for how they
// are driven and composed with the warmup.
#include <vector>

#include "nn/optim/lr_schedule.h"

namespace graft::nn {

// StepLR: lr = initial_lr * gamma^floor(epochs / step_size).
class StepLr : public LrSchedule {
 public:
  StepLr(Optimizer& optimizer, int64_t step_size, double gamma, Warmup warmup = {});

 protected:
  double main_lr(size_t g) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// MultiStepLR: lr = initial_lr * gamma^(number of milestones <= epochs). Milestones are positive
// and strictly increasing.
class MultiStepLr : public LrSchedule {
 public:
  MultiStepLr(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma, Warmup warmup = {});

 protected:
  double main_lr(size_t g) const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// CosineAnnealingLR with T_max = epochs, stepped per epoch:
//   lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * e / epochs)) / 2,  e = min(epochs ended, epochs)
// (torch's curve would rise again past T_max; here it stays at eta_min).
class CosineAnnealingLr : public LrSchedule {
 public:
  CosineAnnealingLr(Optimizer& optimizer, int64_t epochs, double eta_min, Warmup warmup = {});

 protected:
  double main_lr(size_t g) const override;

 private:
  int64_t epochs_total_;
  double eta_min_;
};

// OneCycleLR (two phases, cosine annealing, pct_start 0.3, div_factor 25, final_div_factor 1e4),
// stepped per batch over total_steps = steps_per_epoch * epochs, with max_lr = initial_lr *
// max_lr_factor for each group: from max_lr / 25 up to max_lr over the first 30% of the steps,
// then down to max_lr / 25 / 1e4. With cycle_momentum (torch's default), the optimizer's momentum
// (SGD) or beta1 (Adam) moves the other way along the same cosines: from 0.95 down to 0.85 while
// the lr rises, back to 0.95 as it falls; the optimizer's own value is overridden, as in torch.
class OneCycleLr : public LrSchedule {
 public:
  OneCycleLr(Optimizer& optimizer, int64_t total_steps, double max_lr_factor, bool cycle_momentum = true);

 protected:
  double main_lr(size_t g) const override;
  void apply_momentum() override;

 private:
  // Where the current step lies: in the warmup or the annealing phase, and how far through it
  // (0 at its start, 1 at its end).
  struct Position {
    bool warming_up;
    double pct;
  };
  Position position() const;

  int64_t total_steps_;
  double max_lr_factor_;
  bool cycle_momentum_;
};

// ReduceLROnPlateau, mode "min", threshold 1e-4 (relative), cooldown 0, min_lr 0, eps 1e-8: when
// the metric has not improved on the best by the threshold for more than `patience` epochs, each
// group's lr is multiplied by `factor` (skipped for a group when the change would be under eps).
// State: the best metric, the epochs without improvement, and each group's accumulated factor.
class ReduceLrOnPlateau : public LrSchedule {
 public:
  ReduceLrOnPlateau(Optimizer& optimizer, int64_t patience, double factor, Warmup warmup = {});

  void on_epoch_end(double val_metric) override;
  StateDict state_dict() const override;

 protected:
  double main_lr(size_t g) const override;
  void restore(const std::map<std::string, Tensor>& state) override;

 private:
  int64_t patience_;
  double factor_;
  double best_;
  int64_t bad_epochs_ = 0;
  std::vector<double> scale_;  // per group: the product of the reductions applied so far
};

}  // namespace graft::nn
