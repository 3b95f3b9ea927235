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

namespace graft::train {

// `labels` are the training samples' classes, each in [0, classes).
std::vector<double> parse_class_weights(const std::string& spec, const std::vector<int64_t>& labels,
                                        int64_t classes);

}  // namespace graft::train
