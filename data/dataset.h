#pragma once
// A dataset: numbered samples, each an image tensor and an integer label, that the loader
// (data/loader.h) batches. Implementations: ImageFileDataset (files decoded on demand,
// data/image_folder.h), TensorDataset and SubsetDataset (data/tensor_dataset.h).
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace graft::data {

struct Sample {
  Tensor image;  // float32 [C, H, W]
  int64_t label = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Thread-safe. `rng` is a generator seeded for this (epoch, index) by the loader and is the only
  // randomness augmentations may use. Throws graft::Error (naming the file) for unreadable images.
  virtual Sample get(int64_t index, Generator& rng) const = 0;
  // The label of sample `index` without decoding it.
  virtual int64_t label(int64_t index) const = 0;
  // Class names; labels index into them.
  virtual const std::vector<std::string>& classes() const = 0;
  // What sample `index` is, for messages: the file path where there is one ("sample 12" here).
  virtual std::string describe(int64_t index) const;

 protected:
  // Throws an Error naming the dataset operation `op` unless 0 <= index < size().
  void check_index(int64_t index, const char* op) const;
};

}  // namespace graft::data
