#include "nn/batch_norm2d.h"

#include "core/ops/ops.h"

namespace graft::nn {

BatchNorm2d::BatchNorm2d(int64_t num_features, BatchNorm2dOptions options)
    : num_features_(num_features), options_(options) {
  GRAFT_CHECK(num_features >= 1, "BatchNorm2d: num_features must be positive, got ", num_features);
  GRAFT_CHECK(!options.momentum || (*options.momentum >= 0.0 && *options.momentum <= 1.0),
              "BatchNorm2d: momentum must be in [0, 1], got ", options.momentum.value_or(0.0));
  if (options.affine) {
    weight_ = register_parameter("weight", Tensor::ones({num_features}));
    bias_ = register_parameter("bias", Tensor::zeros({num_features}));
  }
  if (options.track_running_stats) {
    running_mean_ = register_buffer("running_mean", Tensor::zeros({num_features}));
    running_var_ = register_buffer("running_var", Tensor::ones({num_features}));
    num_batches_tracked_ = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64),
                                           {.may_be_absent_from_checkpoints = true, .stays_on_host = true});
  }
}

void BatchNorm2d::set_stats_frozen(bool frozen) {
  GRAFT_CHECK(!frozen || options_.track_running_stats,
              "BatchNorm2d: cannot freeze the statistics of a layer built with track_running_stats=false: it has "
              "no running statistics to normalize with; freeze only its weight and bias");
  stats_frozen_ = frozen;
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  GRAFT_CHECK(x.dim() == 4, "BatchNorm2d: expected input [N, C, H, W], got shape ", shape_str(x.shape()));
  GRAFT_CHECK(x.size(1) == num_features_, "BatchNorm2d: expected ", num_features_, " channels, got input of shape ",
              shape_str(x.shape()));
  double momentum = options_.momentum.value_or(0.0);
  const bool learns_stats = is_training() && options_.track_running_stats && !stats_frozen_;
  if (learns_stats) {
    const double batches = num_batches_tracked_.item() + 1;
    num_batches_tracked_.copy_(Tensor::scalar(batches, DType::i64));
    if (!options_.momentum) momentum = 1.0 / batches;
  }
  const bool use_batch_stats = learns_stats || !options_.track_running_stats;
  return ops::batch_norm(x, running_mean_, running_var_, weight_, bias_, use_batch_stats, momentum, options_.eps);
}

}  // namespace graft::nn
