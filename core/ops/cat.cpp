// cat: joins tensors along one dimension. Every other dimension must match. Backward hands each
// input the slice of the gradient that its values went to.
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/ops.h"

namespace graft::ops {
namespace {

struct CatBackward : Node {
  int64_t dim;
  std::vector<int64_t> sizes;  // each input's extent along dim
  const char* name() const override { return "CatBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override {
    std::vector<Tensor> grads(sizes.size());
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (needs_grad(i)) grads[i] = grad.slice(dim, start, start + sizes[i]);
      start += sizes[i];
    }
    return grads;
  }
};

// Every tensor has the first one's rank, dtype, device and sizes outside `dim` (wrapped).
void check_compatible(const std::vector<Tensor>& tensors, int64_t dim) {
  const Tensor& first = tensors[0];
  for (size_t i = 1; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    GRAFT_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " has ", t.dim(), " dimension(s) (shape ",
                shape_str(t.shape()), ") but tensor 0 has ", first.dim(), " (shape ", shape_str(first.shape()),
                "); all tensors must have the same number of dimensions");
    GRAFT_CHECK(t.dtype() == first.dtype(), "cat: tensor ", i, " has dtype ", dtype_name(t.dtype()),
                " but tensor 0 has ", dtype_name(first.dtype()), "; convert one with .to(dtype)");
    GRAFT_CHECK(t.device() == first.device(), "cat: tensor ", i, " is on ", t.device().str(),
                " but tensor 0 is on ", first.device().str(), "; move one with .to(device)");
    for (int64_t d = 0; d < t.dim(); ++d) {
      GRAFT_CHECK(d == dim || t.size(d) == first.size(d), "cat: tensor ", i, " has shape ",
                  shape_str(t.shape()), " but tensor 0 has shape ", shape_str(first.shape()),
                  "; sizes must match in every dimension except the cat dimension ", dim,
                  " (they differ in dimension ", d, ")");
    }
  }
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim_in) {
  GRAFT_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    GRAFT_CHECK(tensors[i].defined(), "cat: tensor ", i, " is undefined");
    GRAFT_CHECK(tensors[i].dim() > 0, "cat: tensor ", i,
                " is zero-dimensional and cannot be concatenated; unsqueeze(0) it first");
  }
  const int64_t dim = wrap_dim(dim_in, tensors[0].dim(), "cat");
  check_compatible(tensors, dim);

  Shape shape = tensors[0].shape();
  shape[dim] = 0;
  for (const Tensor& t : tensors) shape[dim] += t.size(dim);
  Tensor out = Tensor::empty(shape, tensors[0].dtype(), tensors[0].device());
  int64_t start = 0;
  for (const Tensor& t : tensors) {
    out.slice(dim, start, start + t.size(dim)).copy_(t);
    start += t.size(dim);
  }

  if (any_requires_grad(tensors)) {
    auto node = std::make_shared<CatBackward>();
    node->dim = dim;
    for (const Tensor& t : tensors) node->sizes.push_back(t.size(dim));
    record(out, node, tensors);
  }
  return out;
}

}  // namespace graft::ops
