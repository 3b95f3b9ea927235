// slice and select: a sub-range of one dimension, without moving data.
// Backward writes the gradient into the sliced region of a zero tensor of the input's shape.
#include "core/autograd.h"
#include "core/ops/view_common.h"

namespace graft {
namespace {

struct SliceBackward : Node {
  Shape input_shape;
  int64_t dim, start, end, step;
  SliceBackward(Shape shape, int64_t d, int64_t s, int64_t e, int64_t st)
      : input_shape(std::move(shape)), dim(d), start(s), end(e), step(st) {}
  const char* name() const override { return "SliceBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    Tensor full = Tensor::zeros(input_shape, grad.dtype(), grad.device());
    full.detach().slice(dim, start, end, step).copy_(grad);
    return {full};
  }
};

}  // namespace

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  GRAFT_CHECK(dim() > 0, "slice: a 0-d tensor cannot be sliced");
  const int64_t at = wrap_dim(d, dim(), "slice");
  GRAFT_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t size = shape()[at];
  auto clamp = [size](int64_t i) { return std::min(std::max(i < 0 ? i + size : i, int64_t{0}), size); };
  const int64_t lo = clamp(start), hi = std::max(clamp(end), clamp(start));
  Shape new_shape = shape(), new_strides = strides();
  new_shape[at] = (hi - lo + step - 1) / step;
  new_strides[at] = strides()[at] * step;
  Tensor out = ops::alias_with(*this, new_shape, new_strides, offset() + lo * strides()[at]);
  if (any_requires_grad({*this})) {
    record(out, std::make_shared<SliceBackward>(shape(), at, lo, hi, step), {*this});
  }
  return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  GRAFT_CHECK(dim() > 0, "select: cannot be applied to a 0-d tensor");
  const int64_t at = wrap_dim(d, dim(), "select");
  const int64_t size = shape()[at];
  GRAFT_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dimension ",
              d, " of size ", size);
  const int64_t i = index < 0 ? index + size : index;
  return slice(at, i, i + 1).squeeze(at);
}

}  // namespace graft
