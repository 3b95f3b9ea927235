#pragma once
// The GPU side of an optimizer step, as torch's foreach path does it: the float32 CUDA parameters of
// a group are not updated with one kernel launch each but collected, and one multi-tensor launch
// (kernels/optim.h: sgd_update_many, adam_update_many) updates them all, element by element exactly
// as the single-tensor kernels would. What was collected is launched when the group or the device
// changes, and by flush() at the end of the step.
#include <functional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace graft::nn {

template <class Item, class Hyperparameters>
class MultiTensorBatch {
 public:
  // Issues the multi-tensor kernel for `items` on `device`.
  using Launch = std::function<void(const std::vector<Item>& items, const Hyperparameters& h, Device device)>;

  explicit MultiTensorBatch(Launch launch) : launch_(std::move(launch)) {}

  // One tensor's update. `group` identifies the hyperparameters. `keep` are the tensors whose memory
  // the item points into: they stay alive until the launch (a gradient made contiguous for the
  // update would otherwise go back to the allocator at once).
  void add(const void* group, const Hyperparameters& h, Device device, const Item& item, Tensor keep) {
    if (!items_.empty() && (group != group_ || device != device_)) flush();
    group_ = group;
    hyperparameters_ = h;
    device_ = device;
    items_.push_back(item);
    kept_.push_back(std::move(keep));
  }

  void flush() {
    if (items_.empty()) return;
    launch_(items_, hyperparameters_, device_);
    items_.clear();
    kept_.clear();
  }

 private:
  Launch launch_;
  const void* group_ = nullptr;
  Hyperparameters hyperparameters_{};
  Device device_;
  std::vector<Item> items_;
  std::vector<Tensor> kept_;
};

}  // namespace graft::nn
