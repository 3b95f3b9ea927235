#include "tests/support/gradcheck.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops/ops.h"
#include "core/rng.h"

namespace graft::testing {
namespace {

// L = sum(fn(inputs) * weights) as a double, without recording a graph.
double objective(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                 const std::vector<Tensor>& inputs, const Tensor& weights) {
  NoGradGuard no_grad;
  return ops::sum(fn(inputs) * weights).item();
}

}  // namespace

Tensor random_input(const Shape& shape, uint64_t seed, bool requires_grad) {
  Generator gen(seed);
  Tensor t = randn(shape, gen, DType::f64);
  t.set_requires_grad(requires_grad);
  return t;
}

::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                     const std::vector<Tensor>& inputs, GradcheckOptions options) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    Tensor leaf = t.detach().clone();
    if (t.requires_grad()) {
      if (t.dtype() != DType::f64) {
        return ::testing::AssertionFailure() << "gradcheck needs float64 inputs, got " << dtype_name(t.dtype());
      }
      leaf.set_requires_grad(true);
    }
    leaves.push_back(leaf);
  }
  Tensor out = fn(leaves);
  if (!out.requires_grad()) return ::testing::AssertionFailure() << "the output does not require grad";
  Generator gen(99);
  const Tensor weights = randn(out.shape(), gen, DType::f64);
  ops::sum(out * weights).backward();

  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const Tensor analytic = leaves[i].grad().defined() ? leaves[i].grad().contiguous()
                                                       : Tensor::zeros(leaves[i].shape(), DType::f64);
    std::vector<Tensor> probe;
    for (const Tensor& l : leaves) probe.push_back(l.detach().clone());
    double* x = probe[i].data<double>();
    const double* g = analytic.data<double>();
    for (int64_t j = 0; j < probe[i].numel(); ++j) {
      const double saved = x[j];
      x[j] = saved + options.eps;
      const double plus = objective(fn, probe, weights);
      x[j] = saved - options.eps;
      const double minus = objective(fn, probe, weights);
      x[j] = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      if (!(std::abs(g[j] - numeric) <= options.atol + options.rtol * std::abs(numeric))) {
        return ::testing::AssertionFailure()
               << "input " << i << " (shape " << shape_str(probe[i].shape()) << ") element " << j
               << ": autograd gradient " << g[j] << " vs numerical " << numeric;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace graft::testing
