#pragma once
// Parameter groups for fine-tuning: the trainable parameters of a model split by learning rate
// (a new head often learns faster than the pretrained backbone) and by weight decay (decaying
// biases and batch-norm scales toward 0 only hurts, so they are commonly exempt).
#include <optional>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim/optimizer.h"

namespace graft::nn {

struct ParamGroupOptions {
  double lr = 0.01;
  std::optional<double> head_lr;           // lr for parameters under the head prefixes
  std::vector<std::string> head_prefixes;  // e.g. {"fc."} for ResNet, {"classifier.6."} for VGG
  double weight_decay = 0;
  bool no_decay_bn_and_bias = false;       // biases and BatchNorm weights get weight_decay 0
};

// Groups the TRAINABLE parameters of `model` (requires_grad; frozen ones get no group and so no
// state), in state-dict order within each group. Groups, in this order and only when non-empty:
//   "backbone"       lr, weight_decay
//   "no_decay"       lr, weight decay 0          (with no_decay_bn_and_bias)
//   "head"           head_lr, weight_decay       (with head_lr: names starting with a head prefix)
//   "head_no_decay"  head_lr, weight decay 0     (with both)
// "Biases" are parameters whose own name is "bias"; "BatchNorm weights" are the "weight" of any
// normalization layer (a module whose type_name() contains "Norm"). Errors: no trainable
// parameter; head_lr without head prefixes, or with prefixes that match no trainable parameter;
// a negative or non-finite lr or weight decay.
std::vector<ParamGroup> make_param_groups(const Module& model, const ParamGroupOptions& options);

}  // namespace graft::nn
