// dropout: when training, zeroes each element with probability p and scales the kept ones by
// 1 / (1 - p), so the expected value is unchanged. The keep-mask is drawn from the generator in
// row-major order (element i is kept when the i-th draw is below 1 - p, the same sequence as
// graft::bernoulli(shape, 1 - p, generator)), so a seed fixes the mask. Backward applies the
// same mask and scale to the gradient.
#include <cstdint>
#include <vector>

#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/ops.h"
#include "kernels/elementwise.h"

namespace graft::ops {
namespace {

Tensor masked_scale(const Tensor& x, const std::vector<uint8_t>& mask, double scale) {
  const Tensor src = x.detach().contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  visit_compute_dtype(x.dtype(), "dropout", [&](auto v) {
    using T = decltype(v);
    kernels::cpu::masked_scale(src.data<T>(), mask.data(), T(scale), src.numel(), out.data<T>());
  });
  return out;
}

struct DropoutBackward : Node {
  std::vector<uint8_t> mask;
  double scale = 1.0;
  const char* name() const override { return "DropoutBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    return {masked_scale(grad_output, mask, scale)};
  }
  void release_saved() override { mask = {}; }
};

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& generator) {
  check_float(x, "dropout", "x");
  GRAFT_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  check_cpu(x, "dropout");

  const double keep = 1.0 - p;
  std::vector<uint8_t> mask(static_cast<size_t>(x.numel()));
  for (uint8_t& m : mask) m = generator.next_double() < keep ? 1 : 0;
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
