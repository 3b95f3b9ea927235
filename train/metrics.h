#pragma once
// Classification metrics accumulated batch by batch: mean loss, top-1 and top-5 accuracy,
// per-class accuracy (recall) and the confusion matrix (rows: true class, columns: predicted).
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace graft::train {

class ClassificationMetrics {
 public:
  explicit ClassificationMetrics(int64_t classes);

  // logits [N, classes] (any device, float), labels int64 [N]; `mean_loss` is the batch's mean.
  void add(const Tensor& logits, const Tensor& labels, double mean_loss);

  int64_t classes() const { return classes_; }
  int64_t count() const { return count_; }
  double loss() const;  // mean over all samples
  double top1() const;  // fraction in [0, 1]
  double top5() const;  // top-min(5, classes)
  // Fraction of each class's samples predicted correctly (NaN for a class never seen).
  std::vector<double> per_class_accuracy() const;
  // classes x classes, row-major: confusion()[t * classes + p] counts true t predicted p.
  const std::vector<int64_t>& confusion() const { return confusion_; }

  // A printable confusion matrix and per-class accuracy, rows labelled with `class_names`.
  std::string format(const std::vector<std::string>& class_names) const;

 private:
  int64_t classes_;
  int64_t count_ = 0, top1_hits_ = 0, top5_hits_ = 0;
  double loss_sum_ = 0;
  std::vector<int64_t> confusion_;
};

}  // namespace graft::train
