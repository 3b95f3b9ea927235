// CosineAnnealingLR: half a cosine from each group's initial lr down to eta_min over all epochs.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "nn/optim/schedules.h"

namespace graft::nn {

CosineAnnealingLr::CosineAnnealingLr(Optimizer& optimizer, int64_t epochs, double eta_min, Warmup warmup)
    : LrSchedule(optimizer, warmup), epochs_total_(epochs), eta_min_(eta_min) {
  GRAFT_CHECK(epochs >= 1, "CosineAnnealingLr: the number of epochs ", epochs, " must be at least 1");
  GRAFT_CHECK(std::isfinite(eta_min) && eta_min >= 0, "CosineAnnealingLr: eta_min ", eta_min,
              " is invalid; the final lr must be a finite number >= 0");
  apply_lr();
}

double CosineAnnealingLr::main_lr(size_t g) const {
  const double base = optimizer_.groups()[g].initial_lr;
  const double e = static_cast<double>(std::min(epochs(), epochs_total_));
  return eta_min_ + (base - eta_min_) * (1 + std::cos(std::numbers::pi * e / static_cast<double>(epochs_total_))) / 2;
}

}  // namespace graft::nn
