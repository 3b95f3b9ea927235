#pragma once
// Freezing for fine-tuning: pick parameters by their state-dict names and stop training them.
//
// A selector picks parameters by name:
//   a glob         "conv1.*", "layer[12].*", "features.1[0-9].*", "*.bias": '*' matches any run of
//                  characters (dots included), '?' one character, "[abc]", "[a-z]" and "[!a]" one
//                  character of (or not of) a class; the whole name must match;
//   "before:NAME"  the parameters registered before the top-level child NAME, in state-dict
//                  order ("before:layer3" of a ResNet: conv1, bn1, layer1, layer2);
//   "type:TYPE"    the parameters of every module whose type_name() is TYPE, its descendants'
//                  included ("type:BatchNorm2d", "type:Bottleneck").
// Several selectors may share one string, separated by commas: "conv1.*,bn1.*,layer1.*".
//
// A frozen parameter is a leaf that does not require grad, so autograd records nothing for a
// frozen prefix of the network and no gradient kernel runs for it. Batch norm also learns its
// running statistics in training mode; freeze_bn_stats stops that for the layers whose affine
// parameters are frozen (PyTorch users call .eval() on those modules after model.train()).
#include <cstdint>
#include <string>
#include <vector>

#include "nn/batch_norm2d.h"
#include "nn/module.h"

namespace graft::nn {

// Whether `name` matches the glob `pattern` as a whole. An unclosed '[' is an Error.
bool glob_match(const std::string& pattern, const std::string& name);

// Names of the parameters one selector picks, in state-dict order. An Error when it picks none,
// listing a few real names, the top-level children or the module types present.
std::vector<std::string> select_parameters(const Module& model, const std::string& selector);

// Sets requires_grad = false (freeze) or true (unfreeze) on every parameter any selector picks
// (each entry may hold several, comma-separated) and returns the names picked, in state-dict
// order. Every selector must pick something; on an Error nothing is changed.
std::vector<std::string> freeze(Module& model, const std::vector<std::string>& selectors);
std::vector<std::string> unfreeze(Module& model, const std::vector<std::string>& selectors);

// Freezes the running statistics of every BatchNorm2d whose weight and bias are both frozen (or
// that has no affine parameters), so that it normalizes with them in training mode too. Layers
// without running statistics are left alone. Returns how many layers are now stats-frozen.
int64_t freeze_bn_stats(Module& model);

// Freezes a batch norm entirely: running statistics and affine parameters.
void freeze_batch_norm(BatchNorm2d& bn);

// Parameter counts, trainable and frozen, in total and per top-level child, and how many batch
// norms have frozen statistics; one line each.
std::string trainability_summary(const Module& model);

}  // namespace graft::nn
