#pragma once
// Feature caching and the linear probe. A pretrained backbone (a model built headless) is run
// once over a dataset in evaluation mode; its penultimate-layer features are kept in memory or in
// a safetensors file. A linear classifier is then trained on those features alone: each epoch is
// a few matrix products, so hundreds of epochs take seconds.
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"
#include "data/loader.h"
#include "nn/module.h"

namespace graft::train {

struct FeatureSet {
  Tensor features;  // float32 [N, F]
  Tensor labels;    // int64 [N]
  std::vector<std::string> classes;
};

// One pass of `loader` (epoch 0) through `backbone` in evaluation mode without a graph; the
// backbone's output is flattened to [N, F].
FeatureSet extract_features(nn::Module& backbone, data::Loader& loader, Device device = Device::cpu());

// A file holds named sets ("train", "val"): tensors "<set>.features" and "<set>.labels", the
// class names in the metadata. Written atomically.
void save_features(const std::string& path, const std::vector<std::pair<std::string, FeatureSet>>& sets,
                   const std::string& description = "");
// The set called `name`; errors name the file and the sets it holds.
FeatureSet load_features(const std::string& path, const std::string& name);

struct LinearProbeOptions {
  int64_t epochs = 100;
  int64_t batch_size = 256;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 0;
  uint64_t seed = 0;           // initialization and shuffling
  std::vector<double> class_weights;  // the loss's weight per class (train/class_weights.h); empty: none
  std::string metrics_path;    // JSON lines, as the fine-tuning loop writes them
  bool progress = true;        // one line per tenth of the epochs on stderr
};

struct LinearProbeResult {
  Tensor weight;  // [classes, F]
  Tensor bias;    // [classes]
  double train_top1 = 0;
  double val_top1 = -1;  // -1 without validation features
  double val_top5 = -1;
};

// Trains a linear layer (torch's default init, SGD with momentum, cosine learning rate, cross-
// entropy) on `train` features, reporting accuracy on `val` (may be null) at the end.
LinearProbeResult train_linear_probe(const FeatureSet& train, const FeatureSet* val,
                                     const LinearProbeOptions& options);

}  // namespace graft::train
