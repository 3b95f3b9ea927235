#pragma once
// The learning-rate range test (L. Smith, "Cyclical Learning Rates for Training Neural Networks",
// 2017; fastai's lr_find): train for a number of steps while the learning rate grows exponentially
// from start_lr to end_lr, record the loss of every step, stop once the loss has clearly diverged,
// and suggest the learning rate where the loss fell fastest.
//
// The loss is smoothed with a debiased exponential moving average (weight `smoothing` on the past).
// The run stops early when the smoothed loss exceeds diverge_factor x its lowest value, or is not
// finite. The suggestion is the rate at the steepest descent of the smoothed loss against log(lr),
// away from the first tenth of the recorded steps (at least 10 of 40 or more: the average is still
// settling there) and the last tenth (where the loss blows up). Parameter groups keep their ratios (a head learning rate 10x the
// backbone's stays 10x): the rates reported and suggested are the first group's.
//
// The model's parameters and buffers and the groups' learning rates are restored when the test
// ends; the optimizer's state (e.g. momentum) is not, so train afterwards with a fresh optimizer.
#include <cstdint>
#include <vector>

#include "core/device.h"
#include "data/loader.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"

namespace graft::train {

struct LrFinderOptions {
  double start_lr = 1e-7;
  double end_lr = 10;
  int64_t steps = 100;  // at most; the loader's epochs repeat as needed
  double smoothing = 0.98;
  double diverge_factor = 4;
  Device device = Device::cpu();
  double label_smoothing = 0;
  std::vector<double> class_weights;  // empty: unweighted
};

struct LrFinderPoint {
  double lr = 0;
  double loss = 0;      // the step's batch loss, before the update
  double smoothed = 0;  // its debiased moving average
};

struct LrFinderResult {
  std::vector<LrFinderPoint> points;  // one per step taken
  bool diverged = false;              // stopped before `steps`
  double suggested_lr = 0;            // 0 when fewer than 5 steps were recorded
};

LrFinderResult find_lr(nn::Module& model, nn::Optimizer& optimizer, data::Loader& loader, const LrFinderOptions& options);

}  // namespace graft::train
