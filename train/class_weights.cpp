#include "train/class_weights.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "core/ops/ops.h"

namespace graft::train {
namespace {

std::vector<double> balanced(const std::vector<int64_t>& labels, int64_t classes) {
  std::vector<int64_t> counts(classes, 0);
  for (const int64_t label : labels) ++counts.at(label);
  std::vector<double> weights(classes);
  for (int64_t c = 0; c < classes; ++c) {
    GRAFT_CHECK(counts[c] > 0, "--class-weights balanced: class ", c,
                " has no training images, so it has no balanced weight; give the weights explicitly");
    weights[c] = static_cast<double>(labels.size()) / (static_cast<double>(classes) * static_cast<double>(counts[c]));
  }
  return weights;
}

std::vector<double> explicit_weights(const std::string& spec, int64_t classes) {
  std::vector<double> weights;
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    char* end = nullptr;
    const double value = std::strtod(item.c_str(), &end);
    GRAFT_CHECK(!item.empty() && end == item.c_str() + item.size() && std::isfinite(value) && value >= 0,
                "--class-weights '", spec, "': '", item,
                "' is not a non-negative number; give balanced, or one weight per class as in 1,2.5,1");
    weights.push_back(value);
  }
  GRAFT_CHECK(static_cast<int64_t>(weights.size()) == classes, "--class-weights '", spec, "' gives ",
              weights.size(), " weights but the data has ", classes, " classes; give one per class, in class order");
  double total = 0;
  for (const double w : weights) total += w;
  GRAFT_CHECK(total > 0, "--class-weights '", spec, "': every weight is 0, so no sample would count");
  return weights;
}

}  // namespace

std::vector<double> parse_class_weights(const std::string& spec, const std::vector<int64_t>& labels,
                                        int64_t classes) {
  if (spec == "balanced") return balanced(labels, classes);
  return explicit_weights(spec, classes);
}

Tensor class_weight_tensor(const std::vector<double>& weights, int64_t classes, Device device, const char* who) {
  if (weights.empty()) return Tensor();
  GRAFT_CHECK(static_cast<int64_t>(weights.size()) == classes, who, " has ", weights.size(),
              " class weights but the data has ", classes, " classes");
  return Tensor::from_vector(weights, {classes}).to(DType::f32).to(device);
}

Tensor training_loss(const Tensor& logits, const Tensor& labels, const Tensor& class_weights, double label_smoothing) {
  if (class_weights.defined()) {
    return ops::cross_entropy(logits, labels, class_weights, ops::Reduction::mean, -100, label_smoothing);
  }
  return ops::cross_entropy(logits, labels, ops::Reduction::mean, -100, label_smoothing);
}

}  // namespace graft::train
