// TensorDataset, SubsetDataset and indices_with_labels (see data/tensor_dataset.h).
#include "data/tensor_dataset.h"

#include <algorithm>

#include "core/error.h"

namespace graft::data {

TensorDataset::TensorDataset(Tensor images, Tensor labels, std::vector<std::string> classes, TensorTransform transform)
    : classes_(std::move(classes)), transform_(std::move(transform)) {
  GRAFT_CHECK(images.defined() && images.dtype() == DType::f32 && images.dim() == 4 && images.device().is_cpu(),
              "TensorDataset: images must be a float32 [N, C, H, W] CPU tensor, got ",
              images.defined()
                  ? concat(dtype_name(images.dtype()), " ", shape_str(images.shape()), " on ", images.device().str())
                  : std::string("an undefined tensor"));
  GRAFT_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == images.size(0),
              "TensorDataset: labels must be an int64 [N] tensor with N = ", images.size(0), " (one per image), got ",
              labels.defined() ? concat(dtype_name(labels.dtype()), " ", shape_str(labels.shape()))
                               : std::string("an undefined tensor"));
  images_ = images.detach().contiguous();
  labels_ = labels.to_vector<int64_t>();
  const int64_t max_label = labels_.empty() ? -1 : *std::max_element(labels_.begin(), labels_.end());
  if (classes_.empty()) {
    for (int64_t i = 0; i <= max_label; ++i) classes_.push_back(std::to_string(i));
  }
  for (size_t i = 0; i < labels_.size(); ++i) {
    GRAFT_CHECK(labels_[i] >= 0 && labels_[i] < static_cast<int64_t>(classes_.size()), "TensorDataset: label ",
                labels_[i], " of sample ", i, " is outside [0, ", classes_.size(), ") (", classes_.size(), " classes)");
  }
}

Sample TensorDataset::get(int64_t index, Generator& rng) const {
  check_index(index, "TensorDataset::get");
  Tensor image = images_.select(0, index).clone();
  if (transform_) image = transform_(image, rng);
  return {image, labels_[index]};
}

int64_t TensorDataset::label(int64_t index) const {
  check_index(index, "TensorDataset::label");
  return labels_[index];
}

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  GRAFT_CHECK(base_ != nullptr, "SubsetDataset: no base dataset given");
  for (int64_t index : indices_) {
    GRAFT_CHECK(index >= 0 && index < base_->size(), "SubsetDataset: index ", index,
                " is out of range for a dataset of ", base_->size(), " samples");
  }
}

Sample SubsetDataset::get(int64_t index, Generator& rng) const {
  check_index(index, "SubsetDataset::get");
  return base_->get(indices_[index], rng);
}

int64_t SubsetDataset::label(int64_t index) const {
  check_index(index, "SubsetDataset::label");
  return base_->label(indices_[index]);
}

std::string SubsetDataset::describe(int64_t index) const {
  check_index(index, "SubsetDataset::describe");
  return base_->describe(indices_[index]);
}

std::vector<int64_t> indices_with_labels(const Dataset& dataset, const std::vector<int64_t>& labels) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    if (std::find(labels.begin(), labels.end(), dataset.label(i)) != labels.end()) indices.push_back(i);
  }
  return indices;
}

}  // namespace graft::data
