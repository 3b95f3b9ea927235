#pragma once
// Datasets held in memory, and views of other datasets.
//   TensorDataset: images [N, C, H, W] float32 and labels int64 [N], e.g. Fashion-MNIST from
//                  read_idx_images/read_idx_labels (data/idx.h), with an optional tensor transform.
//   SubsetDataset: some samples of another dataset, renumbered 0..k-1 (e.g. a few classes, or the
//                  first n samples for a quick run); indices_with_labels picks them by label.
#include <memory>

#include "data/augment.h"
#include "data/dataset.h"

namespace graft::data {

class TensorDataset : public Dataset {
 public:
  // `classes` may be empty: the classes are then "0" .. the largest label. Labels must index into
  // the classes. The images are copied to contiguous memory if they are not already.
  TensorDataset(Tensor images, Tensor labels, std::vector<std::string> classes, TensorTransform transform = {});

  int64_t size() const override { return images_.size(0); }
  // A fresh [C, H, W] tensor (a copy: transforms and callers may write to it), then the transform.
  Sample get(int64_t index, Generator& rng) const override;
  int64_t label(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return classes_; }

 private:
  Tensor images_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
  TensorTransform transform_;
};

class SubsetDataset : public Dataset {
 public:
  // Sample i of the subset is sample indices[i] of `base`; indices may repeat.
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);

  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Sample get(int64_t index, Generator& rng) const override;
  int64_t label(int64_t index) const override;
  const std::vector<std::string>& classes() const override { return base_->classes(); }
  std::string describe(int64_t index) const override;

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// The indices, in order, of the samples of `dataset` whose label is one of `labels`.
std::vector<int64_t> indices_with_labels(const Dataset& dataset, const std::vector<int64_t>& labels);

}  // namespace graft::data
