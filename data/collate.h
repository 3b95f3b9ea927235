#pragma once
// Stacking samples into a batch: the loader's last step, usable on its own (e.g. to batch a few
// samples by hand in a test or a feature-extraction loop).
#include <vector>

#include "data/loader.h"

namespace graft::data {

// Stacks the samples' images into float32 [N, C, H, W] and their labels into int64 [N]. Every
// image must be a float32 CPU tensor of one shape; a mismatch is an Error naming the sample
// (dataset.describe(indices[i])). With `pinned`, both tensors live in page-locked host memory
// (cuda::allocate_pinned), which needs a CUDA build and a GPU.
Batch collate(const std::vector<Sample>& samples, const std::vector<int64_t>& indices, const Dataset& dataset,
              bool pinned = false);

}  // namespace graft::data
