// cross_entropy of logits [N, C] against int64 class indices [N], with PyTorch's semantics:
// log_softmax over classes, then the negative log-likelihood of each target, blended with the
// mean over all classes when label_smoothing > 0. Samples whose target is ignore_index have
// loss 0 and no gradient; the mean divides by the number of samples that are not ignored (NaN
// when every sample is ignored, as in PyTorch). The class-weighted form is composed of the
// unweighted one and elementwise ops, so it runs wherever they do.
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "kernels/softmax.h"

namespace graft::ops {
namespace {

// The targets as checked on the host, and how many are not ignore_index.
struct HostTargets {
  std::vector<int64_t> values;
  int64_t counted = 0;
};

// Checks the arguments; the targets are read to the host once, for their range check and count.
HostTargets check_arguments(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing) {
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
  const int64_t classes = logits.size(1);
  HostTargets host{target.to_vector<int64_t>()};
  for (size_t i = 0; i < host.values.size(); ++i) {
    const int64_t value = host.values[i];
    GRAFT_CHECK(value == ignore_index || (value >= 0 && value < classes), "cross_entropy: target[", i, "] = ", value,
                " is out of range for ", classes, " classes (expected 0..", classes - 1, " or ignore_index ",
                ignore_index, ")");
    if (value != ignore_index) ++host.counted;
  }
  return host;
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
    Tensor dlogits = Tensor::empty({n, c}, log_probs.dtype(), log_probs.device());
    const int64_t* pt = target.device_data<int64_t>();
    visit_compute_dtype(log_probs.dtype(), "cross_entropy", [&](auto v) {
      using T = decltype(v);
      const T* plp = log_probs.device_data<T>();
      const T* pg = per_sample.device_data<T>();
      T* pdx = dlogits.device_data<T>();
      on_device(
          log_probs,
          [&] { kernels::cpu::cross_entropy_backward(plp, pt, n, c, ignore_index, label_smoothing, pg, pdx); },
          [&](auto stream) {
            kernels::cuda::cross_entropy_backward(plp, pt, n, c, ignore_index, label_smoothing, pg, pdx, stream);
          });
    });
    return {dlogits};
  }
  void release_saved() override {
    log_probs = Tensor();
    target = Tensor();
  }
};

// cross_entropy once its arguments are checked; `counted` samples are not ignored.
Tensor checked_cross_entropy(const Tensor& logits, const Tensor& target_in, Reduction reduction, int64_t ignore_index,
                             double label_smoothing, int64_t counted) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const Tensor x = logits.detach().contiguous();
  const Tensor target = target_in.detach().contiguous();
  Tensor log_probs = Tensor::empty({n, c}, logits.dtype(), logits.device());
  Tensor loss = Tensor::empty({n}, logits.dtype(), logits.device());
  const int64_t* pt = target.device_data<int64_t>();
  visit_compute_dtype(logits.dtype(), "cross_entropy", [&](auto v) {
    using T = decltype(v);
    const T* px = x.device_data<T>();
    T* plp = log_probs.device_data<T>();
    T* pl = loss.device_data<T>();
    on_device(
        logits, [&] { kernels::cpu::cross_entropy_forward(px, pt, n, c, ignore_index, label_smoothing, plp, pl); },
        [&](auto stream) {
          kernels::cuda::cross_entropy_forward(px, pt, n, c, ignore_index, label_smoothing, plp, pl, nullptr, stream);
        });
  });
  // The reduction in T, as torch does it: the sum, then one division by the count.
  if (reduction != Reduction::none) loss = sum(loss);
  if (reduction == Reduction::mean) loss = loss / static_cast<double>(counted);

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

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, int64_t ignore_index,
                     double label_smoothing) {
  const int64_t counted = check_arguments(logits, target, ignore_index, label_smoothing).counted;
  return checked_cross_entropy(logits, target, reduction, ignore_index, label_smoothing, counted);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, Reduction reduction,
                     int64_t ignore_index, double label_smoothing) {
  const HostTargets targets = check_arguments(logits, target, ignore_index, label_smoothing);
  GRAFT_CHECK(weight.defined(), "cross_entropy: argument 'weight' is undefined; call the overload without it");
  GRAFT_CHECK(weight.shape() == Shape{logits.size(1)}, "cross_entropy: argument 'weight' must have shape [C] = ",
              shape_str({logits.size(1)}), " (one weight per class) for logits of shape ", shape_str(logits.shape()),
              ", got ", shape_str(weight.shape()));
  GRAFT_CHECK(weight.dtype() == logits.dtype(), "cross_entropy: argument 'weight' has dtype ",
              dtype_name(weight.dtype()), " but 'logits' has ", dtype_name(logits.dtype()),
              "; convert it with .to(DType)");
  GRAFT_CHECK(weight.device() == logits.device(), "cross_entropy: argument 'weight' is on ", weight.device().str(),
              " but 'logits' is on ", logits.device().str(), "; move one with .to(device)");
  // Each sample's weight, and whether it counts at all, built on the host from the targets.
  const std::vector<double> class_weights = weight.to(DType::f64).to_vector<double>();
  const int64_t n = logits.size(0), c = logits.size(1);
  std::vector<double> sample_weights(n, 0.0), counted(n, 0.0);
  double weight_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (targets.values[i] == ignore_index) continue;
    sample_weights[i] = class_weights[targets.values[i]];
    counted[i] = 1;
    weight_sum += sample_weights[i];
  }
  const auto on_logits = [&](const std::vector<double>& values) {
    return Tensor::from_vector(values, {n}).to(logits.dtype()).to(logits.device());
  };
  // -log p(target) of each sample (0 where ignored), weighted.
  Tensor loss = checked_cross_entropy(logits, target, Reduction::none, ignore_index, 0.0, targets.counted) *
                on_logits(sample_weights);
  if (label_smoothing > 0) {
    const Tensor smoothing = sum(log_softmax(logits, 1) * weight.detach().reshape({1, c}), {1}) * on_logits(counted);
    loss = loss * (1.0 - label_smoothing) - smoothing * (label_smoothing / static_cast<double>(c));
  }
  if (reduction == Reduction::none) return loss;
  loss = sum(loss);
  return reduction == Reduction::mean ? loss / weight_sum : loss;
}

}  // namespace graft::ops
