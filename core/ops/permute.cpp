// permute and transpose: reorder dimensions without moving data.
// Backward applies the inverse permutation to the gradient.
#include "core/autograd.h"
#include "core/ops/view_common.h"

namespace graft {
namespace {

struct PermuteBackward : Node {
  std::vector<int64_t> inverse;
  explicit PermuteBackward(std::vector<int64_t> inv) : inverse(std::move(inv)) {}
  const char* name() const override { return "PermuteBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad.permute(inverse)}; }
};

}  // namespace

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  GRAFT_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(),
              " dims for a tensor with ", dim(), " dimensions (shape ", shape_str(shape()), ")");
  Shape shape(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    GRAFT_CHECK(inverse[d] < 0, "permute: dimension ", dims[i], " appears twice in ", shape_str(dims));
    inverse[d] = static_cast<int64_t>(i);
    shape[i] = this->shape()[d];
    strides[i] = this->strides()[d];
  }
  Tensor out = ops::alias_with(*this, shape, strides, offset());
  if (any_requires_grad({*this})) record(out, std::make_shared<PermuteBackward>(inverse), {*this});
  return out;
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  const int64_t d0 = wrap_dim(dim0, dim(), "transpose"), d1 = wrap_dim(dim1, dim(), "transpose");
  if (dim() == 0) return *this;  // a 0-d tensor transposes to itself, as in PyTorch
  std::vector<int64_t> dims(dim());
  for (int64_t i = 0; i < dim(); ++i) dims[i] = i;
  std::swap(dims[d0], dims[d1]);
  return permute(dims);
}

}  // namespace graft
