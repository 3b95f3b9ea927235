// torch.optim.SGD: the options' checks and one step (the arithmetic is kernels/optim.h's
// sgd_update; on a GPU, float32 parameters go group by group to sgd_update_many).
#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "core/ops/on_device.h"
#include "kernels/optim.h"
#include "nn/optim/multi_tensor_batch.h"
#include "nn/optim/optimizer.h"

namespace graft::nn {
namespace {

std::vector<std::string> sgd_slots(const SgdOptions& options) {
  if (options.momentum == 0) return {};
  return {"momentum_buffer"};
}

const SgdOptions& checked(const SgdOptions& options) {
  GRAFT_CHECK(std::isfinite(options.momentum) && options.momentum >= 0, "SGD: momentum ", options.momentum,
              " is invalid; use a finite value >= 0 (0 disables momentum, 0.9 is usual)");
  GRAFT_CHECK(std::isfinite(options.dampening), "SGD: dampening ", options.dampening, " is not finite");
  GRAFT_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
              "SGD: Nesterov momentum needs momentum > 0 and dampening 0 (got momentum ", options.momentum,
              ", dampening ", options.dampening, ")");
  return options;
}

}  // namespace

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions options)
    : Optimizer(std::move(groups), "SGD", sgd_slots(checked(options)), /*counts_steps=*/false), options_(options) {}

std::optional<double> Sgd::cycled_momentum() const {
  if (options_.momentum == 0) return std::nullopt;
  return options_.momentum;
}

void Sgd::set_cycled_momentum(double value) {
  GRAFT_CHECK(options_.momentum != 0, "SGD: was built without momentum, so it keeps no momentum buffer to give "
              "momentum ", value, " to; build it with momentum > 0");
  SgdOptions options = options_;
  options.momentum = value;
  GRAFT_CHECK(value > 0, "SGD: momentum ", value, " is invalid here; an SGD built with momentum keeps it > 0");
  options_ = checked(options);
}

void Sgd::step() {
  using GpuTensor = kernels::cuda::SgdTensor<float>;
  MultiTensorBatch<GpuTensor, kernels::cpu::SgdHyperparameters> gpu(
      [](const std::vector<GpuTensor>& tensors, const kernels::cpu::SgdHyperparameters& h, Device device) {
        ops::on_device(
            device, [] {},  // the batch holds CUDA tensors only
            [&](auto stream) {
              kernels::cuda::sgd_update_many(tensors.data(), static_cast<int64_t>(tensors.size()), h, stream);
            });
      });
  for_each_update([&](const Update& u) {
    const kernels::cpu::SgdHyperparameters h{.lr = u.group.lr,
                                             .weight_decay = u.group.weight_decay,
                                             .momentum = options_.momentum,
                                             .dampening = options_.dampening,
                                             .nesterov = options_.nesterov};
    visit_compute_dtype(u.param.dtype(), "SGD.step", [&](auto t) {
      using T = decltype(t);
      T* buffer = u.state.buffers.empty() ? nullptr : u.state.buffers[0].device_data<T>();
      T* param = u.param.device_data<T>();
      const T* grad = u.grad.device_data<T>();
      const int64_t n = u.param.numel();
      if constexpr (std::is_same_v<T, float>) {
        if (u.param.device().is_cuda()) {
          gpu.add(&u.group, h, u.param.device(),
                  {.param = param, .grad = grad, .momentum_buffer = buffer, .n = n, .first_step = u.first}, u.grad);
          return;
        }
      }
      ops::on_device(
          u.param, [&] { kernels::cpu::sgd_update<T>(n, param, grad, buffer, u.first, h); },
          [&](auto stream) { kernels::cuda::sgd_update<T>(n, param, grad, buffer, u.first, h, stream); });
    });
  });
  gpu.flush();
}

}  // namespace graft::nn
