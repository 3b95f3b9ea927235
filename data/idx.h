#pragma once
// Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed files).
#include <string>

#include "core/tensor.h"

namespace graft::data {

// Images of an idx3-ubyte file as float32 [N, 1, rows, cols] scaled to [0, 1].
// `limit` > 0 reads only the first `limit` images.
Tensor read_idx_images(const std::string& path, int64_t limit = 0);
// Labels of an idx1-ubyte file as int64 [N].
Tensor read_idx_labels(const std::string& path, int64_t limit = 0);

}  // namespace graft::data
