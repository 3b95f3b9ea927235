// view, reshape, flatten, squeeze, unsqueeze: the same elements under a new shape.
// Backward reshapes the gradient back to the input's shape.
#include <optional>

#include "core/autograd.h"
#include "core/ops/view_common.h"

namespace graft {
namespace {

// Replaces a single -1 in `shape` so that it holds `numel` elements.
Shape infer_shape(const Shape& requested, int64_t numel, const Shape& from, const char* op) {
  Shape shape = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      GRAFT_CHECK(infer_at < 0, op, ": only one dimension can be -1 in ", shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      GRAFT_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in ", shape_str(requested));
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    GRAFT_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(requested),
                " is invalid for an input of shape ", shape_str(from), " (", numel, " elements)");
    shape[infer_at] = numel / known;
  }
  GRAFT_CHECK(shape_numel(shape) == numel, op, ": shape ", shape_str(requested),
              " is invalid for an input of shape ", shape_str(from), " (", numel, " elements)");
  return shape;
}

// Strides that let `shape` view memory laid out as (old_shape, old_strides), if any exist
// (the same rule as PyTorch's view: dims may only be merged or split within contiguous chunks).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape) {
  if (old_shape.empty()) return Shape(shape.size(), 1);
  if (shape_numel(old_shape) == 0) return contiguous_strides(shape);
  Shape strides(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    const bool chunk_ends =
        d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
      strides[view_d] = view_numel * chunk_stride;
      view_numel *= shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_stride = old_strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

struct ReshapeBackward : Node {
  Shape input_shape;
  explicit ReshapeBackward(Shape shape) : input_shape(std::move(shape)) {}
  const char* name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad.reshape(input_shape)}; }
};

Tensor reshaped_view(const Tensor& x, const Shape& shape, const Shape& strides) {
  Tensor out = ops::alias_with(x, shape, strides, x.offset());
  if (any_requires_grad({x})) record(out, std::make_shared<ReshapeBackward>(x.shape()), {x});
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  const Shape shape = infer_shape(requested, numel(), this->shape(), "view");
  auto strides = view_strides(this->shape(), this->strides(), shape);
  GRAFT_CHECK(strides.has_value(), "view: a tensor of shape ", shape_str(this->shape()), " with strides ",
              shape_str(this->strides()), " cannot be viewed as ", shape_str(shape),
              " without a copy; use reshape() instead");
  return reshaped_view(*this, shape, *strides);
}

Tensor Tensor::reshape(const Shape& requested) const {
  const Shape shape = infer_shape(requested, numel(), this->shape(), "reshape");
  if (auto strides = view_strides(this->shape(), this->strides(), shape)) {
    return reshaped_view(*this, shape, *strides);
  }
  return contiguous().view(shape);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t start = wrap_dim(start_dim, dim(), "flatten");
  const int64_t end = wrap_dim(end_dim, dim(), "flatten");
  GRAFT_CHECK(start <= end, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(this->shape().begin(), this->shape().begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= this->shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), this->shape().begin() + end + 1, this->shape().end());
  return reshape(shape);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  const int64_t at = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape shape = this->shape();
  shape.insert(shape.begin() + at, 1);
  return reshape(shape);
}

Tensor Tensor::squeeze(int64_t d) const {
  const int64_t at = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || this->shape()[at] != 1) return *this;
  Shape shape = this->shape();
  shape.erase(shape.begin() + at);
  return reshape(shape);
}

namespace ops {

Tensor alias_with(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->offset = offset;
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

}  // namespace ops
}  // namespace graft
