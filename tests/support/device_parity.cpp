#include "tests/support/device_parity.h"

#include "core/rng.h"
#include "tests/support/compare.h"

namespace graft::testing {
namespace {

// Fresh leaves on `device` with the inputs' values and requires_grad flags.
std::vector<Tensor> leaves_on(const std::vector<Tensor>& inputs, Device device) {
  std::vector<Tensor> out;
  for (const Tensor& input : inputs) {
    Tensor leaf = input.detach().to(device).clone();
    if (input.requires_grad()) leaf.set_requires_grad(true);
    out.push_back(leaf);
  }
  return out;
}

}  // namespace

Tensor random_tensor(const Shape& shape, uint64_t seed, bool requires_grad) {
  Generator generator(seed);
  Tensor t = randn(shape, generator);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

::testing::AssertionResult same_on_gpu(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                       const std::vector<Tensor>& inputs, DeviceParityTolerance tolerance) {
  const std::vector<Tensor> cpu_inputs = leaves_on(inputs, Device::cpu());
  const std::vector<Tensor> gpu_inputs = leaves_on(inputs, Device::cuda());
  const Tensor cpu_out = fn(cpu_inputs);
  const Tensor gpu_out = fn(gpu_inputs);
  if (gpu_out.device() != Device::cuda())
    return ::testing::AssertionFailure() << "the GPU run's result is on " << gpu_out.device().str();
  ::testing::AssertionResult same = all_close(gpu_out, cpu_out, tolerance.atol, tolerance.rtol, "output");
  if (!same) return same;

  bool any_grad = false;
  for (const Tensor& input : inputs) any_grad = any_grad || input.requires_grad();
  if (!any_grad) return same;
  // The same upstream gradient for both runs: d(sum(out * w)) / d out = w.
  const Tensor w = random_tensor(cpu_out.shape(), 7).to(cpu_out.dtype());
  cpu_out.backward(w);
  gpu_out.backward(w.to(Device::cuda()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const Tensor cpu_grad = cpu_inputs[i].grad(), gpu_grad = gpu_inputs[i].grad();
    if (cpu_grad.defined() != gpu_grad.defined())
      return ::testing::AssertionFailure() << "input " << i << " got a gradient on one device only";
    if (!cpu_grad.defined()) continue;
    same = all_close(gpu_grad, cpu_grad, tolerance.atol, tolerance.rtol, "gradient of input " + std::to_string(i));
    if (!same) return same;
  }
  return same;
}

}  // namespace graft::testing
