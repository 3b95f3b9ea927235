#pragma once
// Reading the weights a command was given: "imagenet" (the published file, from the cache or
// downloaded), a .safetensors file, or a .pth checkpoint in any of torch's layouts.
#include <string>

#include "nn/module.h"

namespace graft::cli {

// The tensors of `source`, with a "state_dict.", "model." or "module." prefix removed when every
// name carries it (training checkpoints and DataParallel models save such names).
nn::StateDict read_weights(const std::string& source, const std::string& model);

// Outputs of the classifier head stored in `weights` (fc.weight for ResNet, classifier.6.weight
// for VGG), or 0 when the head is absent.
int64_t head_classes(const nn::StateDict& weights);

}  // namespace graft::cli
