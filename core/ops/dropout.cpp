// dropout: when training, zeroes each element with probability p and scales the kept ones by
// 1 / (1 - p), so the expected value is unchanged. The keep-mask is drawn from the generator in
// row-major order (element i is kept when the i-th draw is below 1 - p, the same sequence as
// graft::bernoulli(shape, 1 - p, generator)), so a seed fixes the mask. Backward applies the
// same mask and scale to the gradient. On a GPU the mask is drawn on the host (the same mask as on
// the CPU for the same generator state) and copied to the device once.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "core/storage.h"
#include "kernels/elementwise.h"

namespace graft::ops {
namespace {

// The keep-mask, one byte per element, in the memory of the tensor's device.
using Mask = std::shared_ptr<Storage>;

Mask mask_on(const std::vector<uint8_t>& host, Device device) {
  Mask mask = Storage::allocate(host.size(), device);
  if (host.empty()) return mask;
  if (device.is_cpu()) {
    std::memcpy(mask->data(), host.data(), host.size());
  } else {
    cuda::copy(mask->data(), host.data(), host.size(), cuda::CopyKind::host_to_device, device.index);
  }
  return mask;
}

Tensor masked_scale(const Tensor& x, const Mask& mask, double scale) {
  const Tensor src = x.detach().contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const auto* m = static_cast<const uint8_t*>(mask->data());
  visit_compute_dtype(x.dtype(), "dropout", [&](auto v) {
    using T = decltype(v);
    const T* px = src.device_data<T>();
    T* py = out.device_data<T>();
    on_device(
        x, [&] { kernels::cpu::masked_scale(px, m, T(scale), src.numel(), py); },
        [&](auto stream) { kernels::cuda::masked_scale(px, m, T(scale), src.numel(), py, stream); });
  });
  return out;
}

struct DropoutBackward : Node {
  Mask mask;
  double scale = 1.0;
  const char* name() const override { return "DropoutBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    return {masked_scale(grad_output, mask, scale)};
  }
  void release_saved() override { mask = nullptr; }
};

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& generator) {
  check_float(x, "dropout", "x");
  GRAFT_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;

  const double keep = 1.0 - p;
  std::vector<uint8_t> host_mask(static_cast<size_t>(x.numel()));
  for (uint8_t& m : host_mask) m = generator.next_double() < keep ? 1 : 0;
  Mask mask = mask_on(host_mask, x.device());
  const double scale = p < 1.0 ? 1.0 / keep : 0.0;  // p = 1 drops everything

  Tensor out = masked_scale(x, mask, scale);
  if (any_requires_grad({x})) {
    auto node = std::make_shared<DropoutBackward>();
    node->mask = std::move(mask);
    node->scale = scale;
    record(out, node, {x});
  }
  return out;
}

}  // namespace graft::ops
