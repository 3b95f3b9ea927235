#pragma once
// BatchNorm2d over [N, C, H, W] (torch.nn.BatchNorm2d). Parameters (affine): weight [C] = 1,
// bias [C] = 0. Buffers (track_running_stats): running_mean [C] = 0, running_var [C] = 1 and
// num_batches_tracked (int64 scalar) = 0.
//
// Training mode normalizes with the batch statistics; with running stats, each call adds 1 to
// num_batches_tracked and blends the batch statistics into the running ones with `momentum`
// (or, when momentum is unset, with 1 / num_batches_tracked: a cumulative average). Evaluation
// mode normalizes with the running statistics (batch statistics without running stats).
// num_batches_tracked stays in host memory when the layer moves to a GPU: the host reads it at
// every training step, and a read from GPU memory would wait for all queued work each time.
//
// Frozen statistics (set_stats_frozen, for fine-tuning a pretrained network): the layer normalizes
// with its running statistics and updates nothing (not num_batches_tracked either), in training
// mode too, as a torch BatchNorm2d put in eval() after model.train(). The flag is the layer's own:
// Module::train() and eval() leave it as it is. Gradients still flow to x, weight and bias unless
// those are frozen as well (see nn/freeze.h).
#include <optional>

#include "nn/module.h"

namespace graft::nn {

struct BatchNorm2dOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNorm2dOptions options = {});

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }

  int64_t num_features() const { return num_features_; }
  const BatchNorm2dOptions& options() const { return options_; }
  // Undefined when the options leave them out.
  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }
  Tensor running_mean() const { return running_mean_; }
  Tensor running_var() const { return running_var_; }
  Tensor num_batches_tracked() const { return num_batches_tracked_; }

  // An Error for a layer without running statistics (track_running_stats = false).
  void set_stats_frozen(bool frozen);
  bool stats_frozen() const { return stats_frozen_; }

 private:
  int64_t num_features_;
  BatchNorm2dOptions options_;
  Parameter weight_, bias_;
  Tensor running_mean_, running_var_, num_batches_tracked_;
  bool stats_frozen_ = false;
};

}  // namespace graft::nn
