// sum and mean over dimensions, and sum_to (the reverse of broadcasting).
// Backward broadcasts the gradient back over the reduced dimensions.
#include <algorithm>

#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "kernels/reduce.h"

namespace graft::ops {
namespace {

// Sorted, de-duplicated, non-negative dims; empty input means every dim.
std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (ndim == 0) {  // a 0-d tensor accepts dim 0 or -1, and there is nothing to reduce over
    for (int64_t d : dims) wrap_dim(d, 1, op);
    return out;
  }
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  GRAFT_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dimension listed twice in ",
              shape_str(dims));
  return out;
}

Shape kept_shape(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape out = shape;
  for (int64_t d : dims) out[d] = 1;
  return out;
}

struct SumBackward : Node {
  Shape input_shape, keepdim_shape;
  const char* name() const override { return "SumBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {g.reshape(keepdim_shape).expand(input_shape).contiguous()};
  }
};

Tensor reduce_sum(const Tensor& x, const std::vector<int64_t>& dims) {
  // Move the reduced dims to the end (a no-op permutation when they already are), then sum the
  // trailing block: [kept..., reduced...] viewed as [outer, reduce, 1].
  std::vector<int64_t> order;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!std::binary_search(dims.begin(), dims.end(), d)) order.push_back(d);
  }
  int64_t outer = 1, reduce = 1;
  for (int64_t d : order) outer *= x.size(d);
  for (int64_t d : dims) reduce *= x.size(d);
  order.insert(order.end(), dims.begin(), dims.end());
  const Tensor src = x.detach().permute(order).contiguous();
  Tensor out = Tensor::empty({outer}, x.dtype(), x.device());
  visit_compute_dtype(x.dtype(), "sum", [&](auto v) {
    using T = decltype(v);
    const T* px = src.device_data<T>();
    T* po = out.device_data<T>();
    on_device(
        x, [&] { kernels::cpu::sum_reduce(px, outer, reduce, int64_t{1}, po); },
        [&](auto stream) { kernels::cuda::sum_reduce(px, outer, reduce, int64_t{1}, po, stream); });
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  check_float(x, "sum", "x");
  const std::vector<int64_t> dims = normalize_dims(dims_in, x.dim(), "sum");
  const Shape keepdim_shape = kept_shape(x.shape(), dims);
  Shape out_shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (keepdim || !std::binary_search(dims.begin(), dims.end(), d)) out_shape.push_back(keepdim_shape[d]);
  }
  Tensor out = reduce_sum(x, dims).view(out_shape);
  if (any_requires_grad({x})) {
    auto node = std::make_shared<SumBackward>();
    node->input_shape = x.shape();
    node->keepdim_shape = keepdim_shape;
    record(out, node, {x});
  }
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  check_float(x, "mean", "x");
  int64_t count = 1;
  for (int64_t d : normalize_dims(dims_in, x.dim(), "mean")) count *= x.size(d);
  return sum(x, dims_in, keepdim) / static_cast<double>(count);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  GRAFT_CHECK(lead >= 0, "sum_to: cannot reduce shape ", shape_str(x.shape()), " to the larger rank ",
              shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    const int64_t want = shape[d - lead];
    GRAFT_CHECK(want == x.size(d) || want == 1, "sum_to: shape ", shape_str(x.shape()),
                " does not broadcast from ", shape_str(shape));
    if (want == 1 && x.size(d) != 1) dims.push_back(d);
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace graft::ops
