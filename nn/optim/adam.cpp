// torch.optim.Adam and AdamW: the options' checks and one step (the arithmetic is
// kernels/optim.h's adam_update; on a GPU, float32 parameters go group by group to
// adam_update_many). AdamW differs only in where weight decay enters.
#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "core/ops/on_device.h"
#include "kernels/optim.h"
#include "nn/optim/multi_tensor_batch.h"
#include "nn/optim/optimizer.h"

namespace graft::nn {
namespace {

std::vector<std::string> adam_slots(const AdamOptions& options) {
  if (options.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

const AdamOptions& checked(const AdamOptions& options, const std::string& name) {
  GRAFT_CHECK(options.beta1 >= 0 && options.beta1 < 1, name, ": beta1 ", options.beta1,
              " is invalid; it must be in [0, 1) (0.9 is usual)");
  GRAFT_CHECK(options.beta2 >= 0 && options.beta2 < 1, name, ": beta2 ", options.beta2,
              " is invalid; it must be in [0, 1) (0.999 is usual)");
  GRAFT_CHECK(std::isfinite(options.eps) && options.eps >= 0, name, ": eps ", options.eps,
              " is invalid; use a finite value >= 0 (1e-8 is usual)");
  return options;
}

}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options) : Adam(std::move(groups), options, false, "Adam") {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options, bool decoupled_weight_decay, std::string name)
    : Optimizer(std::move(groups), name, adam_slots(checked(options, name)), /*counts_steps=*/true),
      options_(options),
      decoupled_weight_decay_(decoupled_weight_decay) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions options) : Adam(std::move(groups), options, true, "AdamW") {}

void Adam::set_cycled_momentum(double value) {
  AdamOptions options = options_;
  options.beta1 = value;
  options_ = checked(options, name());
}

void Adam::step() {
  using GpuTensor = kernels::cuda::AdamTensor<float>;
  MultiTensorBatch<GpuTensor, kernels::cpu::AdamHyperparameters> gpu(
      [](const std::vector<GpuTensor>& tensors, const kernels::cpu::AdamHyperparameters& h, Device device) {
        ops::on_device(
            device, [] {},  // the batch holds CUDA tensors only
            [&](auto stream) {
              kernels::cuda::adam_update_many(tensors.data(), static_cast<int64_t>(tensors.size()), h, stream);
            });
      });
  for_each_update([&](const Update& u) {
    const kernels::cpu::AdamHyperparameters h{.lr = u.group.lr,
                                              .beta1 = options_.beta1,
                                              .beta2 = options_.beta2,
                                              .eps = options_.eps,
                                              .weight_decay = u.group.weight_decay,
                                              .decoupled_weight_decay = decoupled_weight_decay_,
                                              .amsgrad = options_.amsgrad};
    visit_compute_dtype(u.param.dtype(), "Adam.step", [&](auto t) {
      using T = decltype(t);
      T* max_exp_avg_sq = options_.amsgrad ? u.state.buffers[2].device_data<T>() : nullptr;
      T* param = u.param.device_data<T>();
      const T* grad = u.grad.device_data<T>();
      T* exp_avg = u.state.buffers[0].device_data<T>();
      T* exp_avg_sq = u.state.buffers[1].device_data<T>();
      const int64_t n = u.param.numel(), step = u.state.step;
      if constexpr (std::is_same_v<T, float>) {
        if (u.param.device().is_cuda()) {
          gpu.add(&u.group, h, u.param.device(),
                  {.param = param,
                   .grad = grad,
                   .exp_avg = exp_avg,
                   .exp_avg_sq = exp_avg_sq,
                   .max_exp_avg_sq = max_exp_avg_sq,
                   .n = n,
                   .step = step},
                  u.grad);
          return;
        }
      }
      ops::on_device(
          u.param,
          [&] { kernels::cpu::adam_update<T>(n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, h); },
          [&](auto stream) {
            kernels::cuda::adam_update<T>(n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, h, stream);
          });
    });
  });
  gpu.flush();
}

}  // namespace graft::nn
