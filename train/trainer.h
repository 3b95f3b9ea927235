#pragma once
// The fine-tuning loop. Each optimizer step: for each of its batches (one, or more with gradient
// accumulation), forward in training mode, cross-entropy (optionally weighted per class; the
// validation loss never is, so runs with other weights compare) and backward; then optional
// gradient clipping, the update, and the schedule. Each epoch: validation (top-1,
// top-5, per-class accuracy, confusion matrix), the schedule's epoch hook, a checkpoint, and the
// best-checkpoint and early-stopping bookkeeping. Metrics go to a JSON-lines file:
//   {"step": n, "epoch": e, "loss": L, "lr": ...}     one per optimizer step; L is the batch's mean
//                                                      loss before the update (averaged over the
//                                                      step's batches when they accumulate), lr the
//                                                      rate it used
//   {"epoch": e, "train_loss": ..., "val_top1": ...}   one per epoch
// A run resumed from its last checkpoint continues bit-identically: the loader's order and
// augmentations depend only on (seed, epoch, index), and every other piece of state is saved.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "data/loader.h"
#include "nn/module.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"
#include "train/metrics.h"

namespace graft::train {

struct TrainOptions {
  int64_t epochs = 1;
  Device device = Device::cpu();
  double clip_grad_norm = 0;    // 0: no clipping
  double label_smoothing = 0;
  std::vector<double> class_weights;  // the training loss's weight per class; empty: unweighted
  // Batches whose gradients add up before each optimizer step (gradient accumulation: an effective
  // batch of accumulate_batches x the loader's). Each batch's mean loss counts equally; the last
  // group of an epoch may be shorter, and is averaged over its own batches.
  int64_t accumulate_batches = 1;
  std::string metrics_path;     // JSON lines; empty: none. Truncated on a fresh run, appended on resume
  // Checkpoint folder: last.safetensors after every epoch (a training checkpoint) and
  // best.safetensors (model weights only, torchvision names) at the best validation top-1.
  std::string output_dir;
  bool resume = false;               // continue from output_dir/last.safetensors
  int64_t early_stopping_patience = 0;  // stop after this many epochs without a better val top-1
  bool restore_best = false;         // end with the best epoch's weights instead of the last
  bool progress = true;              // progress bar on stderr
  bool print_confusion = false;      // confusion matrix after each validation
};

struct EpochSummary {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_top1 = 0;
  std::optional<ClassificationMetrics> val;
  double seconds = 0;
  double images_per_second = 0;
};

struct FitResult {
  std::vector<EpochSummary> epochs;  // the epochs this call ran
  int64_t best_epoch = -1;           // over the whole run, resumed parts included
  double best_top1 = -1;
  bool stopped_early = false;
};

// Optimizer steps in an epoch of `batches` batches, `accumulate_batches` to a step (what a
// learning-rate schedule counts).
int64_t optimizer_steps_per_epoch(int64_t batches, int64_t accumulate_batches);

class Trainer {
 public:
  // `schedule` may be null. The model must already be on options.device.
  Trainer(nn::Module& model, nn::Optimizer& optimizer, nn::LrSchedule* schedule, TrainOptions options);

  // Trains on `train` for the remaining epochs, validating on `val` (may be null) after each.
  FitResult fit(data::Loader& train, data::Loader* val);

 private:
  nn::Module& model_;
  nn::Optimizer& optimizer_;
  nn::LrSchedule* schedule_;
  TrainOptions options_;
};

}  // namespace graft::train
