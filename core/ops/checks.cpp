#include "core/ops/checks.h"

namespace graft::ops {

void check_float(const Tensor& t, const char* op, const char* arg) {
  GRAFT_CHECK(t.defined(), op, ": argument '", arg, "' is undefined");
  GRAFT_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, op, ": argument '", arg,
              "' has dtype ", dtype_name(t.dtype()), "; expected float32 or float64");
}

void check_dim(const Tensor& t, int64_t ndim, const char* op, const char* arg, const char* what) {
  GRAFT_CHECK(t.dim() == ndim, op, ": argument '", arg, "' must be ", ndim, "-D ", what, ", got shape ",
              shape_str(t.shape()));
}

void check_same_kind(const Tensor& t, const char* arg,
                     std::initializer_list<std::pair<const Tensor*, const char*>> others, const char* op) {
  for (const auto& [other, other_arg] : others) {
    if (!other->defined()) continue;
    GRAFT_CHECK(other->dtype() == t.dtype(), op, ": argument '", other_arg, "' has dtype ",
                dtype_name(other->dtype()), " but '", arg, "' has ", dtype_name(t.dtype()),
                "; convert one with .to(dtype)");
    GRAFT_CHECK(other->device() == t.device(), op, ": argument '", other_arg, "' is on ",
                other->device().str(), " but '", arg, "' is on ", t.device().str(),
                "; move one with .to(device)");
  }
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    GRAFT_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace graft::ops
