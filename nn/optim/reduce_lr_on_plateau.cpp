// ReduceLROnPlateau (mode "min"): decays the lr when the validation metric stops improving.
#include <cmath>
#include <limits>

#include "core/error.h"
#include "nn/optim/schedules.h"

namespace graft::nn {
namespace {

constexpr double kThreshold = 1e-4;  // relative improvement that counts as better
constexpr double kEps = 1e-8;        // smaller lr changes are skipped

const std::string kBest = "schedule.plateau.best";
const std::string kBadEpochs = "schedule.plateau.bad_epochs";
const std::string kScalePrefix = "schedule.plateau.scale.";

}  // namespace

ReduceLrOnPlateau::ReduceLrOnPlateau(Optimizer& optimizer, int64_t patience, double factor, Warmup warmup)
    : LrSchedule(optimizer, warmup),
      patience_(patience),
      factor_(factor),
      best_(std::numeric_limits<double>::infinity()),
      scale_(optimizer.groups().size(), 1.0) {
  GRAFT_CHECK(patience >= 0, "ReduceLrOnPlateau: patience ", patience, " must be >= 0 epochs");
  GRAFT_CHECK(factor > 0 && factor < 1, "ReduceLrOnPlateau: factor ", factor,
              " is invalid; the decay factor must be in (0, 1) (0.1 is usual)");
  apply_lr();
}

void ReduceLrOnPlateau::on_epoch_end(double val_metric) {
  if (val_metric < best_ * (1 - kThreshold)) {
    best_ = val_metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;  // a NaN metric never improves
  }
  if (bad_epochs_ > patience_) {
    const std::vector<ParamGroup>& groups = optimizer_.groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = groups[g].lr;
      if (old_lr - old_lr * factor_ > kEps) scale_[g] *= factor_;
    }
    bad_epochs_ = 0;
  }
  LrSchedule::on_epoch_end(val_metric);
}

double ReduceLrOnPlateau::main_lr(size_t g) const {
  GRAFT_CHECK(g < scale_.size(), "ReduceLrOnPlateau: the optimizer has more parameter groups than when the "
              "schedule was made; make a new schedule");
  return optimizer_.groups()[g].initial_lr * scale_[g];
}

StateDict ReduceLrOnPlateau::state_dict() const {
  StateDict out = LrSchedule::state_dict();
  out.emplace_back(kBest, Tensor::scalar(best_, DType::f64));
  out.emplace_back(kBadEpochs, Tensor::scalar(static_cast<double>(bad_epochs_), DType::i64));
  const std::vector<ParamGroup>& groups = optimizer_.groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    out.emplace_back(kScalePrefix + groups[g].name, Tensor::scalar(scale_[g], DType::f64));
  }
  return out;
}

void ReduceLrOnPlateau::restore(const std::map<std::string, Tensor>& state) {
  const double bad_epochs = state.at(kBadEpochs).item();
  GRAFT_CHECK(bad_epochs >= 0, "ReduceLrOnPlateau.load_state_dict: '", kBadEpochs, "' is ", bad_epochs,
              "; a counter is >= 0");
  std::vector<double> scale;
  for (const ParamGroup& group : optimizer_.groups()) {
    scale.push_back(state.at(kScalePrefix + group.name).item());
    GRAFT_CHECK(scale.back() > 0 && scale.back() <= 1, "ReduceLrOnPlateau.load_state_dict: '", kScalePrefix,
                group.name, "' is ", scale.back(), "; an accumulated decay lies in (0, 1]");
  }
  LrSchedule::restore(state);
  best_ = state.at(kBest).item();
  bad_epochs_ = static_cast<int64_t>(bad_epochs);
  scale_ = std::move(scale);
}

}  // namespace graft::nn
