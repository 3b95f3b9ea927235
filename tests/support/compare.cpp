#include "tests/support/compare.h"

#include <cmath>

namespace graft::testing {

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double atol,
                                     double rtol, const std::string& what) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << what << ": " << (actual.defined() ? "expected" : "actual")
                                         << " tensor is undefined";
  }
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(actual.shape())
                                         << " differs from expected " << shape_str(expected.shape());
  }
  const std::vector<double> a = actual.to_vector<double>();
  const std::vector<double> e = expected.to_vector<double>();
  double scale = 0;
  for (double v : e) {
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  }
  const double bound = atol + rtol * scale;
  double worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(e[i])) continue;
    if (std::isinf(e[i]) && a[i] == e[i]) continue;
    const double diff = std::abs(a[i] - e[i]);
    if (!(diff <= worst) || std::isnan(diff)) {
      worst = std::isnan(diff) ? INFINITY : diff;
      worst_at = i;
    }
  }
  if (worst <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": max |difference| " << worst << " at flat index "
                                       << worst_at << " (got " << a[worst_at] << ", expected "
                                       << e[worst_at] << ") exceeds " << bound << " = " << atol
                                       << " + " << rtol << " * " << scale << ", shape "
                                       << shape_str(expected.shape());
}

}  // namespace graft::testing
