#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"

namespace graft::train {

ClassificationMetrics::ClassificationMetrics(int64_t classes)
    : classes_(classes), confusion_(static_cast<size_t>(classes * classes), 0) {
  GRAFT_CHECK(classes > 0, "metrics need at least one class, got ", classes);
}

void ClassificationMetrics::add(const Tensor& logits, const Tensor& labels, double mean_loss) {
  GRAFT_CHECK(logits.dim() == 2 && logits.size(1) == classes_, "metrics: logits must be [N, ", classes_,
              "], got ", shape_str(logits.shape()));
  GRAFT_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0) && labels.dtype() == DType::i64,
              "metrics: labels must be int64 [", logits.size(0), "], got ", shape_str(labels.shape()));
  const Tensor scores = logits.to(Device::cpu()).to(DType::f32).contiguous();
  const Tensor targets = labels.to(Device::cpu()).contiguous();
  const float* s = scores.data<float>();
  const int64_t* t = targets.data<int64_t>();
  const int64_t n = logits.size(0), k = std::min<int64_t>(5, classes_);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = s + i * classes_;
    const int64_t truth = t[i];
    GRAFT_CHECK(truth >= 0 && truth < classes_, "metrics: label ", truth, " outside [0, ", classes_, ")");
    const int64_t predicted = std::max_element(row, row + classes_) - row;
    // Rank of the true class: how many scores beat it (ties broken towards the lower index).
    int64_t better = 0;
    for (int64_t c = 0; c < classes_; ++c) {
      better += row[c] > row[truth] || (row[c] == row[truth] && c < truth);
    }
    top1_hits_ += predicted == truth;
    top5_hits_ += better < k;
    ++confusion_[truth * classes_ + predicted];
  }
  count_ += n;
  loss_sum_ += mean_loss * static_cast<double>(n);
}

double ClassificationMetrics::loss() const { return count_ ? loss_sum_ / count_ : 0.0; }
double ClassificationMetrics::top1() const { return count_ ? double(top1_hits_) / count_ : 0.0; }
double ClassificationMetrics::top5() const { return count_ ? double(top5_hits_) / count_ : 0.0; }

std::vector<double> ClassificationMetrics::per_class_accuracy() const {
  std::vector<double> accuracy(classes_);
  for (int64_t t = 0; t < classes_; ++t) {
    int64_t total = 0;
    for (int64_t p = 0; p < classes_; ++p) total += confusion_[t * classes_ + p];
    accuracy[t] = total ? double(confusion_[t * classes_ + t]) / total : std::numeric_limits<double>::quiet_NaN();
  }
  return accuracy;
}

std::string ClassificationMetrics::format(const std::vector<std::string>& class_names) const {
  auto name_of = [&](int64_t c) {
    std::string name = c < static_cast<int64_t>(class_names.size()) ? class_names[c] : std::to_string(c);
    return name.size() > 14 ? name.substr(0, 13) + "~" : name;
  };
  std::string out = "confusion matrix (rows: true class, columns: predicted)\n";
  char cell[64];
  out += std::string(16, ' ');
  for (int64_t p = 0; p < classes_; ++p) {
    std::snprintf(cell, sizeof cell, "%6lld", static_cast<long long>(p));
    out += cell;
  }
  out += "   accuracy\n";
  const std::vector<double> accuracy = per_class_accuracy();
  for (int64_t t = 0; t < classes_; ++t) {
    std::snprintf(cell, sizeof cell, "%3lld %-12s", static_cast<long long>(t), name_of(t).c_str());
    out += cell;
    for (int64_t p = 0; p < classes_; ++p) {
      std::snprintf(cell, sizeof cell, "%6lld", static_cast<long long>(confusion_[t * classes_ + p]));
      out += cell;
    }
    std::snprintf(cell, sizeof cell, "   %6.2f%%\n", std::isnan(accuracy[t]) ? 0.0 : 100 * accuracy[t]);
    out += std::isnan(accuracy[t]) ? "   (none)\n" : cell;
  }
  return out;
}

}  // namespace graft::train
