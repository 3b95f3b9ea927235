#include "nn/linear.h"

#include "core/ops/ops.h"
#include "nn/default_init.h"

namespace graft::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& generator) {
  GRAFT_CHECK(in_features >= 1 && out_features >= 1, "Linear: in_features (", in_features, ") and out_features (",
              out_features, ") must be positive");
  weight_ = register_parameter("weight", Tensor::zeros({out_features, in_features}));
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out_features}));
  default_init(weight_, bias_, generator);
}

Tensor Linear::forward(const Tensor& x) { return ops::linear(x, weight_, bias_); }

int64_t Linear::flops(const Shape& input, const Shape& output) const {
  return 2 * shape_numel(output) * in_features();
}

}  // namespace graft::nn
