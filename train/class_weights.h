#pragma once
// Per-class loss weights against class imbalance (ops::cross_entropy's `weight`), from the value of
// --class-weights:
//   "balanced"    n_samples / (n_classes * n_samples_of_class): every class contributes the same
//                 total weight (scikit-learn's formula, the usual `weight=` for PyTorch's loss)
//   "W1,W2,..."   one non-negative number per class, in class order
// Bad values are Errors that name the value and say what is expected.
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"

namespace graft::train {

// `labels` are the training samples' classes, each in [0, classes).
std::vector<double> parse_class_weights(const std::string& spec, const std::vector<int64_t>& labels,
                                        int64_t classes);

// `weights` as a float32 [classes] tensor on `device`, or an undefined tensor when empty. An Error,
// naming `who`, when there are weights but not one per class.
Tensor class_weight_tensor(const std::vector<double>& weights, int64_t classes, Device device, const char* who);

// The training loss of a batch: mean cross-entropy with label smoothing, weighted per class when
// `class_weights` (from class_weight_tensor) is defined.
Tensor training_loss(const Tensor& logits, const Tensor& labels, const Tensor& class_weights, double label_smoothing);

}  // namespace graft::train
