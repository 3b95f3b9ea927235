// expand: broadcast size-1 dimensions (and new leading ones) to a larger shape with stride 0.
// Backward sums the gradient back down to the input's shape.
#include "core/autograd.h"
#include "core/ops/ops.h"
#include "core/ops/view_common.h"

namespace graft {
namespace {

struct ExpandBackward : Node {
  Shape input_shape;
  explicit ExpandBackward(Shape shape) : input_shape(std::move(shape)) {}
  const char* name() const override { return "ExpandBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {ops::sum_to(grad, input_shape)}; }
};

}  // namespace

Tensor Tensor::expand(const Shape& target) const {
  const int64_t extra = static_cast<int64_t>(target.size()) - dim();
  GRAFT_CHECK(extra >= 0, "expand: target ", shape_str(target), " has fewer dimensions than the input ",
              shape_str(shape()));
  Shape new_shape(target.size()), new_strides(target.size(), 0);
  for (int64_t i = 0; i < static_cast<int64_t>(target.size()); ++i) {
    const int64_t want = target[i];
    if (i < extra) {
      GRAFT_CHECK(want >= 0, "expand: size -1 is not allowed for the new leading dimension ", i);
      new_shape[i] = want;
      continue;
    }
    const int64_t have = shape()[i - extra];
    GRAFT_CHECK(want >= -1, "expand: invalid size ", want, " at dimension ", i, " of ", shape_str(target));
    if (want == -1 || want == have) {
      new_shape[i] = have;
      new_strides[i] = strides()[i - extra];
    } else {
      GRAFT_CHECK(have == 1, "expand: the input's size ", have, " at dimension ", i - extra,
                  " must be 1 to expand to ", want, " (input ", shape_str(shape()), ", target ",
                  shape_str(target), ")");
      new_shape[i] = want;
    }
  }
  if (new_shape == shape()) return *this;
  Tensor out = ops::alias_with(*this, new_shape, new_strides, offset());
  if (any_requires_grad({*this})) record(out, std::make_shared<ExpandBackward>(shape()), {*this});
  return out;
}

}  // namespace graft
