// StepLR and MultiStepLR: decay by gamma every step_size epochs, or after each milestone epoch.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "nn/optim/schedules.h"

namespace graft::nn {
namespace {

void check_gamma(double gamma, const char* where) {
  GRAFT_CHECK(std::isfinite(gamma) && gamma > 0, where, ": gamma ", gamma,
              " is invalid; the decay factor must be a finite number > 0 (0.1 is usual)");
}

}  // namespace

StepLr::StepLr(Optimizer& optimizer, int64_t step_size, double gamma, Warmup warmup)
    : LrSchedule(optimizer, warmup), step_size_(step_size), gamma_(gamma) {
  GRAFT_CHECK(step_size >= 1, "StepLr: the step size ", step_size, " must be at least 1 epoch");
  check_gamma(gamma, "StepLr");
  apply_lr();
}

double StepLr::main_lr(size_t g) const {
  const int64_t decays = epochs() / step_size_;
  return optimizer_.groups()[g].initial_lr * std::pow(gamma_, static_cast<double>(decays));
}

MultiStepLr::MultiStepLr(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma, Warmup warmup)
    : LrSchedule(optimizer, warmup), milestones_(std::move(milestones)), gamma_(gamma) {
  GRAFT_CHECK(!milestones_.empty(), "MultiStepLr: no milestones; give the epochs after which to decay, e.g. 30,60");
  for (size_t i = 0; i < milestones_.size(); ++i) {
    GRAFT_CHECK(milestones_[i] >= 1 && (i == 0 || milestones_[i] > milestones_[i - 1]), "MultiStepLr: milestones ",
                shape_str(milestones_), " must be positive epochs in increasing order");
  }
  check_gamma(gamma, "MultiStepLr");
  apply_lr();
}

double MultiStepLr::main_lr(size_t g) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epochs()) - milestones_.begin();
  return optimizer_.groups()[g].initial_lr * std::pow(gamma_, static_cast<double>(passed));
}

}  // namespace graft::nn
