#pragma once
// Options shared by every model constructor and models::create.
#include <cstdint>

#include "core/rng.h"

namespace graft::models {

struct ModelOptions {
  // Outputs of the classifier head (fc for ResNet, classifier.6 for VGG).
  int64_t num_classes = 1000;
  // Without the head: the model returns pooled features, [N, 512] (ResNet-18/34), [N, 2048]
  // (ResNet-50/101/152) or [N, 4096] (VGG: the output of classifier.4, the second ReLU, so
  // classifier.5 and classifier.6 are absent). num_classes is then unused.
  bool headless = false;
  // Channels of the input images: 1 for grayscale such as Fashion-MNIST. Only the small ResNets
  // (models/small_resnet.h) take other than 3; the torchvision architectures reject it.
  int64_t in_channels = 3;
  // Draws the initial weights during construction only; null means default_generator().
  Generator* generator = nullptr;
  // false: skip the random initialization and leave weights at zero, for a model whose state is
  // loaded from a checkpoint right away (see nn::SkipInitGuard).
  bool initialize = true;

  Generator& init_generator() const { return generator ? *generator : default_generator(); }
};

}  // namespace graft::models
