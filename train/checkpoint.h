#pragma once
// Training checkpoints: everything a run needs to continue exactly where it stopped — the model's
// parameters and buffers (under "model." + torchvision's names), the optimizer's state
// ("optimizer."), the learning-rate schedule's ("schedule."), and in the safetensors metadata
// the epoch and step counters, early-stopping bookkeeping and the global RNG state (dropout).
// Files are written atomically (temporary file, then rename), so a crash never leaves a torn file.
#include <cstdint>
#include <string>

#include "core/rng.h"
#include "nn/module.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"

namespace graft::train {

struct TrainingProgress {
  int64_t epochs_done = 0;
  int64_t steps_done = 0;
  double best_top1 = -1;  // best validation top-1 so far (-1: none yet)
  int64_t best_epoch = -1;
  int64_t epochs_without_improvement = 0;
  Generator::State rng;   // default_generator() after the last completed epoch
};

// `schedule` may be null.
void save_checkpoint(const std::string& path, const nn::Module& model, const nn::Optimizer& optimizer,
                     const nn::LrSchedule* schedule, const TrainingProgress& progress);

// Restores model, optimizer and schedule in place and returns the progress. Errors name the file
// and what does not fit (not a graft checkpoint, another model, another optimizer setup).
TrainingProgress load_checkpoint(const std::string& path, nn::Module& model, nn::Optimizer& optimizer,
                                 nn::LrSchedule* schedule);

}  // namespace graft::train
