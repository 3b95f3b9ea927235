#pragma once
// Building a model for training or evaluation from a name and a weights source, with a head
// sized for the user's classes.
#include <memory>
#include <string>

#include "cli/args.h"
#include "core/device.h"
#include "nn/module.h"

namespace graft::cli {

// The state-dict prefix of a model's classifier head: its last Linear layer ("fc." for ResNet,
// "classifier.6." for VGG).
std::string head_prefix(nn::Module& model);

// Creates `model_name` with a `classes`-way head and loads `weights` into it: "none" keeps the
// random initialization (drawn from the global generator, so --seed fixes it); a file or
// "imagenet" whose head already has `classes` outputs is loaded whole; otherwise every tensor
// but the head's is loaded and a message on stderr says the head starts from random weights.
// Any other mismatch (another architecture's weights) is an Error listing the names. With
// `require_head`, weights without a matching head are an Error instead (evaluation).
std::shared_ptr<nn::Module> build_classifier(const std::string& model_name, const std::string& weights,
                                             int64_t classes, bool require_head = false);

// --device: cpu (the default), cuda or cuda:N, which must exist (an Error says what is available,
// or that this build has no CUDA support).
Device device_option(const Args& args);

// The model without its head (pooled features out), with `weights` loaded except any head tensors.
std::shared_ptr<nn::Module> build_backbone(const std::string& model_name, const std::string& weights);

}  // namespace graft::cli
