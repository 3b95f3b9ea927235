// cross_entropy of logits [N, C] against int64 class indices [N], with PyTorch's semantics:
// log_softmax over classes, then the negative log-likelihood of each target, blended with the
// mean over all classes when label_smoothing > 0. Samples whose target is ignore_index have
// loss 0 and no gradient; the mean divides by the number of samples that are not ignored (NaN
// when every sample is ignored, as in PyTorch).
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/ops.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace graft::ops {
namespace {

void check_arguments(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing) {
  check_float(logits, "cross_entropy", "logits");
  check_dim(logits, 2, "cross_entropy", "logits", "[N, C]");
  GRAFT_CHECK(target.defined(), "cross_entropy: argument 'target' is undefined");
  GRAFT_CHECK(target.dtype() == DType::i64, "cross_entropy: argument 'target' has dtype ",
              dtype_name(target.dtype()), "; expected int64 class indices (convert with .to(DType::i64))");
  GRAFT_CHECK(target.shape() == Shape{logits.size(0)}, "cross_entropy: argument 'target' must have shape ",
              "[N] = ", shape_str({logits.size(0)}), " for logits of shape ", shape_str(logits.shape()),
              ", got ", shape_str(target.shape()));
  GRAFT_CHECK(target.device() == logits.device(), "cross_entropy: argument 'target' is on ",
              target.device().str(), " but 'logits' is on ", logits.device().str(),
              "; move one with .to(device)");
  GRAFT_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  check_cpu(logits, "cross_entropy");
  const int64_t classes = logits.size(1);
  const std::vector<int64_t> values = target.to_vector<int64_t>();
  for (size_t i = 0; i < values.size(); ++i) {
    GRAFT_CHECK(values[i] == ignore_index || (values[i] >= 0 && values[i] < classes), "cross_entropy: target[",
                i, "] = ", values[i], " is out of range for ", classes, " classes (expected 0..", classes - 1,
                " or ignore_index ", ignore_index, ")");
  }
}

struct CrossEntropyBackward : Node {
  Tensor log_probs, target;  // detached, contiguous
  Reduction reduction;
  int64_t ignore_index, counted;
  double label_smoothing;
  const char* name() const override { return "CrossEntropyBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    const int64_t n = log_probs.size(0), c = log_probs.size(1);
    // The gradient of each sample's loss: the output gradient itself (none), or the one scalar
    // shared by all samples (sum), divided by the count of samples that were averaged (mean).
    Tensor per_sample = grad.contiguous();
    if (reduction != Reduction::none) {
      if (reduction == Reduction::mean) per_sample = per_sample / static_cast<double>(counted);
      per_sample = per_sample.expand({n}).contiguous();
    }
    Tensor dlogits = Tensor::empty({n, c}, log_probs.dtype());
    visit_compute_dtype(log_probs.dtype(), "cross_entropy", [&](auto v) {
      using T = decltype(v);
      kernels::cpu::cross_entropy_backward(log_probs.data<T>(), target.data<int64_t>(), n, c, ignore_index,
                                           label_smoothing, per_sample.data<T>(), dlogits.data<T>());
    });
    return {dlogits};
  }
  void release_saved() override {
    log_probs = Tensor();
    target = Tensor();
  }
};

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target_in, Reduction reduction, int64_t ignore_index,
                     double label_smoothing) {
  check_arguments(logits, target_in, ignore_index, label_smoothing);
  const int64_t n = logits.size(0), c = logits.size(1);
  const Tensor x = logits.detach().contiguous();
  const Tensor target = target_in.detach().contiguous();
  Tensor log_probs = Tensor::empty({n, c}, logits.dtype());
  Tensor loss = Tensor::empty({n}, logits.dtype());
  int64_t counted = 0;
  visit_compute_dtype(logits.dtype(), "cross_entropy", [&](auto v) {
    using T = decltype(v);
    counted = kernels::cpu::cross_entropy_forward(x.data<T>(), target.data<int64_t>(), n, c, ignore_index,
                                                  label_smoothing, log_probs.data<T>(), loss.data<T>());
    if (reduction != Reduction::none) {
      Tensor total = Tensor::empty({}, logits.dtype());
      kernels::cpu::sum_reduce(loss.data<T>(), int64_t{1}, n, int64_t{1}, total.data<T>());
      if (reduction == Reduction::mean) *total.data<T>() /= static_cast<T>(counted);
      loss = total;
    }
  });

  if (any_requires_grad({logits})) {
    auto node = std::make_shared<CrossEntropyBackward>();
    node->log_probs = log_probs;
    node->target = target;
    node->reduction = reduction;
    node->ignore_index = ignore_index;
    node->counted = counted;
    node->label_smoothing = label_smoothing;
    record(loss, node, {logits});
  }
  return loss;
}

}  // namespace graft::ops
