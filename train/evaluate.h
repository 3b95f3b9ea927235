#pragma once
// Evaluation of a classifier over a whole loader: eval mode, no graph, mean cross-entropy,
// top-1/top-5, per-class accuracy and the confusion matrix.
#include "core/device.h"
#include "data/loader.h"
#include "nn/module.h"
#include "train/metrics.h"

namespace graft::train {

// Runs one epoch (epoch 0) of `loader` through `model` on `device`. The model's training mode
// is restored afterwards. The loader's dataset defines the number of classes.
ClassificationMetrics evaluate(nn::Module& model, data::Loader& loader, Device device = Device::cpu());

}  // namespace graft::train
