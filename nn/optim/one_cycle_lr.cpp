// OneCycleLR: warm up from max_lr / 25 to max_lr over 30% of the steps, then anneal to
// max_lr / 25 / 1e4, both halves along a cosine, while the momentum goes 0.95 -> 0.85 -> 0.95;
// torch's phase arithmetic, step for step.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "nn/optim/schedules.h"

namespace graft::nn {
namespace {

constexpr double kPctStart = 0.3;
constexpr double kDivFactor = 25.0;
constexpr double kFinalDivFactor = 1e4;
constexpr double kBaseMomentum = 0.85;
constexpr double kMaxMomentum = 0.95;

// From `start` at pct 0 to `end` at pct 1 along half a cosine.
double cosine_anneal(double start, double end, double pct) {
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

}  // namespace

OneCycleLr::OneCycleLr(Optimizer& optimizer, int64_t total_steps, double max_lr_factor, bool cycle_momentum)
    : LrSchedule(optimizer),
      total_steps_(total_steps),
      max_lr_factor_(max_lr_factor),
      cycle_momentum_(cycle_momentum) {
  GRAFT_CHECK(total_steps >= 1, "OneCycleLr: the number of steps ", total_steps, " must be at least 1");
  GRAFT_CHECK(std::isfinite(max_lr_factor) && max_lr_factor > 0, "OneCycleLr: max_lr_factor ", max_lr_factor,
              " is invalid; the peak lr is initial lr x max_lr_factor, a finite number > 0");
  GRAFT_CHECK(!cycle_momentum || optimizer.cycled_momentum().has_value(), "OneCycleLr: ", optimizer.name(),
              " has no momentum to cycle (one-cycle moves it between ", kMaxMomentum, " and ", kBaseMomentum,
              " as torch's OneCycleLR does); build it with momentum > 0 (--momentum 0.9), or schedule the lr "
              "alone with 'onecycle:", max_lr_factor, ":lr-only'");
  apply_lr();
}

OneCycleLr::Position OneCycleLr::position() const {
  const double step = static_cast<double>(std::min(steps(), total_steps_));
  const double warm_end = kPctStart * static_cast<double>(total_steps_) - 1;
  const double last = static_cast<double>(total_steps_ - 1);
  // warm_end is never 0 and always below `last` for whole step counts, so neither phase divides by 0.
  if (step <= warm_end) return {.warming_up = true, .pct = step / warm_end};
  return {.warming_up = false, .pct = (step - warm_end) / (last - warm_end)};
}

double OneCycleLr::main_lr(size_t g) const {
  const double max_lr = optimizer_.groups()[g].initial_lr * max_lr_factor_;
  const double start_lr = max_lr / kDivFactor;
  const double min_lr = start_lr / kFinalDivFactor;
  const Position at = position();
  if (at.warming_up) return cosine_anneal(start_lr, max_lr, at.pct);
  return cosine_anneal(max_lr, min_lr, at.pct);
}

void OneCycleLr::apply_momentum() {
  if (!cycle_momentum_) return;
  const Position at = position();
  optimizer_.set_cycled_momentum(at.warming_up ? cosine_anneal(kMaxMomentum, kBaseMomentum, at.pct)
                                               : cosine_anneal(kBaseMomentum, kMaxMomentum, at.pct));
}

}  // namespace graft::nn
