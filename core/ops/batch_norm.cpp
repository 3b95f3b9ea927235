// batch_norm over x [N, C, ...] (statistics per channel C, over N and the trailing dims).
// training: normalizes with the batch mean and biased variance, and updates the running stats
// in place when they are defined: running = (1 - momentum) * running + momentum * batch stat,
// with the unbiased batch variance (as torch.nn.functional.batch_norm). eval: normalizes with
// the running stats, which are then constants for backward (frozen batch norm). On a GPU the
// kernels are graft's or cuDNN's as kernel_source(KernelFamily::batch_norm) says (cuDNN has no
// evaluation-mode backward: graft's runs there either way).
#include "kernels/batch_norm.h"

#include <utility>

#include "core/autograd.h"
#include "core/kernel_choice.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"

namespace graft::ops {
namespace {

// x viewed as [n, c, hw].
struct Layout {
  int64_t n, c, hw;
};

Layout layout_of(const Tensor& x) {
  Layout layout{x.size(0), x.size(1), 1};
  for (int64_t d = 2; d < x.dim(); ++d) layout.hw *= x.size(d);
  return layout;
}

// Kernels take null for an absent optional tensor.
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.device_data<T>() : nullptr;
}

bool use_vendor() { return kernel_source(KernelFamily::batch_norm) == KernelSource::vendor; }


void check_per_channel(const Tensor& t, const char* arg, int64_t channels) {
  if (!t.defined()) return;
  GRAFT_CHECK(t.dim() == 1 && t.size(0) == channels, "batch_norm: argument '", arg, "' must have shape [",
              channels, "] (one value per channel of x), got ", shape_str(t.shape()));
}

struct BatchNormBackward : Node {
  bool training = true;
  Layout layout{};
  double eps = 0;
  Tensor x;             // detached, contiguous; undefined in eval when no weight/bias gradient needs it
  Tensor weight;        // detached, contiguous, or undefined
  Tensor mean, invstd;  // training: the batch statistics
  Tensor running_mean, running_var;  // eval: copies of the running statistics used

  const char* name() const override { return "BatchNormBackward"; }

  std::vector<Tensor> backward(const Tensor& grad_output) override {
    const Tensor dy = grad_output.contiguous();
    const auto [n, c, hw] = layout;
    const Device device = dy.device();
    Tensor dx, dweight, dbias;
    if (needs_grad(0)) dx = Tensor::empty(dy.shape(), dy.dtype(), device);
    if (needs_grad(1)) dweight = Tensor::empty({c}, dy.dtype(), device);
    if (needs_grad(2)) dbias = Tensor::empty({c}, dy.dtype(), device);
    visit_compute_dtype(dy.dtype(), "batch_norm", [&](auto v) {
      using T = decltype(v);
      const T *pdy = dy.device_data<T>(), *px = data_or_null<T>(x), *pw = data_or_null<T>(weight);
      T *pdx = data_or_null<T>(dx), *pdw = data_or_null<T>(dweight), *pdb = data_or_null<T>(dbias);
      if (training) {
        const T *pm = mean.device_data<T>(), *pi = invstd.device_data<T>();
        on_device(
            device, [&] { kernels::cpu::batch_norm_backward_train(pdy, px, n, c, hw, pw, pm, pi, pdx, pdw, pdb); },
            [&](auto stream) {
              check_float32_on_cuda<T>("batch_norm");
              if constexpr (std::is_same_v<T, float>) {
                const auto kernel = use_vendor() ? kernels::vendor::batch_norm_backward_train
                                                 : kernels::cuda::batch_norm_backward_train<float>;
                kernel(pdy, px, n, c, hw, pw, pm, pi, pdx, pdw, pdb, stream);
              }
            });
      } else {
        const T *prm = running_mean.device_data<T>(), *prv = running_var.device_data<T>();
        on_device(
            device,
            [&] { kernels::cpu::batch_norm_backward_eval(pdy, px, n, c, hw, pw, prm, prv, eps, pdx, pdw, pdb); },
            [&](auto stream) {
              check_float32_on_cuda<T>("batch_norm");
              kernels::cuda::batch_norm_backward_eval(pdy, px, n, c, hw, pw, prm, prv, eps, pdx, pdw, pdb, stream);
            });
      }
    });
    return {dx, dweight, dbias};
  }

  void release_saved() override { x = weight = mean = invstd = running_mean = running_var = Tensor(); }
};

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  check_float(x, "batch_norm", "x");
  GRAFT_CHECK(x.dim() >= 2, "batch_norm: argument 'x' must be [N, C], [N, C, L] or [N, C, H, W], got shape ",
              shape_str(x.shape()));
  check_same_kind(
      x, "x",
      {{&running_mean, "running_mean"}, {&running_var, "running_var"}, {&weight, "weight"}, {&bias, "bias"}},
      "batch_norm");
  const int64_t channels = x.size(1);
  check_per_channel(running_mean, "running_mean", channels);
  check_per_channel(running_var, "running_var", channels);
  check_per_channel(weight, "weight", channels);
  check_per_channel(bias, "bias", channels);
  GRAFT_CHECK(eps >= 0.0, "batch_norm: eps must be non-negative, got ", eps);
  GRAFT_CHECK(momentum >= 0.0 && momentum <= 1.0, "batch_norm: momentum must be in [0, 1], got ", momentum);
  const Layout layout = layout_of(x);
  if (training) {
    GRAFT_CHECK(layout.n * layout.hw > 1,
                "batch_norm: expected more than 1 value per channel when training, got x of shape ",
                shape_str(x.shape()), "; use a larger batch or evaluation mode");
    for (const auto& [stat, arg] :
         {std::pair{&running_mean, "running_mean"}, std::pair{&running_var, "running_var"}}) {
      GRAFT_CHECK(!stat->defined() || stat->is_contiguous(), "batch_norm: argument '", arg,
                  "' is updated in place and must be contiguous; pass a contiguous tensor");
    }
  } else {
    GRAFT_CHECK(
        running_mean.defined() && running_var.defined(),
        "batch_norm: evaluation mode needs running_mean and running_var; pass them or use training mode");
  }

  const Tensor src = x.detach().contiguous();
  const Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  const Device device = x.device();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  Tensor mean, invstd;
  visit_compute_dtype(x.dtype(), "batch_norm", [&](auto v) {
    using T = decltype(v);
    const auto [n, c, hw] = layout;
    const T *px = src.device_data<T>(), *pw = data_or_null<T>(w), *pb = data_or_null<T>(b);
    T* py = out.device_data<T>();
    if (training) {
      mean = Tensor::empty({c}, x.dtype(), device);
      invstd = Tensor::empty({c}, x.dtype(), device);
      T *prm = data_or_null<T>(running_mean), *prv = data_or_null<T>(running_var);
      T *pm = mean.device_data<T>(), *pi = invstd.device_data<T>();
      on_device(
          device,
          [&] { kernels::cpu::batch_norm_forward_train(px, n, c, hw, pw, pb, eps, momentum, prm, prv, py, pm, pi); },
          [&](auto stream) {
            check_float32_on_cuda<T>("batch_norm");
            if constexpr (std::is_same_v<T, float>) {
              const auto kernel = use_vendor() ? kernels::vendor::batch_norm_forward_train
                                               : kernels::cuda::batch_norm_forward_train<float>;
              kernel(px, n, c, hw, pw, pb, eps, momentum, prm, prv, py, pm, pi, stream);
            }
          });
    } else {
      const Tensor rm = running_mean.detach().contiguous(), rv = running_var.detach().contiguous();
      const T *prm = rm.device_data<T>(), *prv = rv.device_data<T>();
      on_device(
          device, [&] { kernels::cpu::batch_norm_forward_eval(px, n, c, hw, pw, pb, prm, prv, eps, py); },
          [&](auto stream) {
            check_float32_on_cuda<T>("batch_norm");
            if constexpr (std::is_same_v<T, float>) {
              const auto kernel = use_vendor() ? kernels::vendor::batch_norm_forward_eval
                                               : kernels::cuda::batch_norm_forward_eval<float>;
              kernel(px, n, c, hw, pw, pb, prm, prv, eps, py, stream);
            }
          });
    }
  });

  if (any_requires_grad({x, weight, bias})) {
    auto node = std::make_shared<BatchNormBackward>();
    record(out, node, {x, weight, bias});
    node->training = training;
    node->layout = layout;
    node->eps = eps;
    node->weight = w;
    if (training) {
      node->x = src;
      node->mean = mean;
      node->invstd = invstd;
    } else {
      // Eval backward reads x only for the weight and bias gradients (a frozen layer needs
      // none). The statistics are copied: a later update of the buffers must not change it.
      if (node->needs_grad(1) || node->needs_grad(2)) node->x = src;
      node->running_mean = running_mean.detach().clone();
      node->running_var = running_var.detach().clone();
    }
  }
  return out;
}

}  // namespace graft::ops
