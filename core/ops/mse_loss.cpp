// mse_loss: (input - target)^2 elementwise, then optionally summed or averaged. Both arguments
// are differentiable: d/d input = 2 (input - target) * grad, d/d target = the negation.
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/ops.h"

namespace graft::ops {
namespace {

struct MseLossBackward : Node {
  Tensor diff;  // input - target, detached
  Reduction reduction;
  const char* name() const override { return "MseLossBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    // grad is 0-d for sum and mean and broadcasts over diff.
    const double scale = reduction == Reduction::mean ? 2.0 / static_cast<double>(diff.numel()) : 2.0;
    Tensor g_input, g_target;
    if (needs_grad(0)) g_input = diff * (grad * scale);
    if (needs_grad(1)) g_target = g_input.defined() ? -g_input : diff * (grad * -scale);
    return {g_input, g_target};
  }
  void release_saved() override { diff = Tensor(); }
};

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_float(input, "mse_loss", "input");
  check_float(target, "mse_loss", "target");
  check_same_kind(input, "input", {{&target, "target"}}, "mse_loss");
  GRAFT_CHECK(input.shape() == target.shape(), "mse_loss: argument 'target' has shape ",
              shape_str(target.shape()), " but 'input' has shape ", shape_str(input.shape()),
              "; they must be the same");
  // Built from other ops on detached tensors; this op records one node of its own instead.
  const Tensor diff = input.detach() - target.detach();
  Tensor loss = diff * diff;
  if (reduction == Reduction::sum) loss = sum(loss);
  if (reduction == Reduction::mean) loss = mean(loss);
  if (any_requires_grad({input, target})) {
    auto node = std::make_shared<MseLossBackward>();
    node->diff = diff;
    node->reduction = reduction;
    record(loss, node, {input, target});
  }
  return loss;
}

}  // namespace graft::ops
