#include "train/lr_finder.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "train/class_weights.h"

namespace graft::train {
namespace {

void check_options(const LrFinderOptions& o) {
  GRAFT_CHECK(o.start_lr > 0 && o.end_lr > o.start_lr, "lr finder: the range must satisfy 0 < start < end, got ",
              o.start_lr, " to ", o.end_lr);
  GRAFT_CHECK(o.steps >= 2, "lr finder: needs at least 2 steps, got ", o.steps);
  GRAFT_CHECK(o.smoothing >= 0 && o.smoothing < 1, "lr finder: smoothing must be in [0, 1), got ", o.smoothing);
  GRAFT_CHECK(o.diverge_factor > 1, "lr finder: the divergence factor must exceed 1, got ", o.diverge_factor);
}

// The steepest descent of the smoothed loss against log(lr), by central differences, away from
// both ends of the recorded steps: the first tenth, and at least the first 10 steps when there are
// 40 or more (the moving average is still settling there), and the last tenth.
double steepest_descent(const std::vector<LrFinderPoint>& points) {
  const int64_t n = static_cast<int64_t>(points.size());
  if (n < 5) return 0;
  const int64_t head = std::max<int64_t>({1, n / 10, std::min<int64_t>(10, n / 4)});
  const int64_t tail = std::max<int64_t>(1, n / 10);
  double best_slope = 0, best_lr = points[head].lr;
  for (int64_t i = head; i < n - tail; ++i) {
    const double slope = (points[i + 1].smoothed - points[i - 1].smoothed) /
                         (std::log(points[i + 1].lr) - std::log(points[i - 1].lr));
    if (slope < best_slope) best_slope = slope, best_lr = points[i].lr;
  }
  return best_lr;
}

}  // namespace

LrFinderResult find_lr(nn::Module& model, nn::Optimizer& optimizer, data::Loader& loader, const LrFinderOptions& options) {
  check_options(options);
  GRAFT_CHECK(!optimizer.groups().empty() && optimizer.groups().front().lr > 0,
              "lr finder: the optimizer's first parameter group needs a positive learning rate to scale from");
  const nn::StateDict saved = model.state_dict_copy();
  std::vector<double> base_lrs, ratios;  // each group's lr, and relative to the first group's
  for (const nn::ParamGroup& group : optimizer.groups()) {
    base_lrs.push_back(group.lr);
    ratios.push_back(group.lr / optimizer.groups().front().lr);
  }
  const int64_t classes = static_cast<int64_t>(loader.dataset().classes().size());
  const Tensor class_weights = class_weight_tensor(options.class_weights, classes, options.device, "lr finder");

  LrFinderResult result;
  model.train();
  double average = 0, lowest = INFINITY;
  for (int64_t epoch = 0; static_cast<int64_t>(result.points.size()) < options.steps && !result.diverged; ++epoch) {
    loader.start_epoch(epoch);
    while (static_cast<int64_t>(result.points.size()) < options.steps) {
      auto batch = loader.next();
      if (!batch) break;
      const int64_t step = static_cast<int64_t>(result.points.size());
      const double lr =
          options.start_lr * std::pow(options.end_lr / options.start_lr, double(step) / double(options.steps - 1));
      for (size_t g = 0; g < ratios.size(); ++g) optimizer.groups()[g].lr = lr * ratios[g];
      const Tensor logits = model(batch->images.to(options.device));
      const Tensor labels = batch->labels.to(options.device);
      const Tensor loss = training_loss(logits, labels, class_weights, options.label_smoothing);
      const double value = loss.item();
      average = options.smoothing * average + (1 - options.smoothing) * value;
      const double smoothed = average / (1 - std::pow(options.smoothing, double(step + 1)));
      result.points.push_back({lr, value, smoothed});
      if (!std::isfinite(smoothed) || smoothed > options.diverge_factor * lowest) {
        result.diverged = true;
        break;
      }
      lowest = std::min(lowest, smoothed);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
    GRAFT_CHECK(epoch > 0 || !result.points.empty(), "lr finder: the loader gave no batches; lower --batch-size");
  }
  // The suggestion comes from the steps before the divergence.
  std::vector<LrFinderPoint> settled = result.points;
  if (result.diverged) settled.pop_back();
  result.suggested_lr = steepest_descent(settled);
  optimizer.zero_grad();
  for (size_t g = 0; g < base_lrs.size(); ++g) optimizer.groups()[g].lr = base_lrs[g];
  model.load_state_dict(saved);
  return result;
}

}  // namespace graft::train
