#include "nn/dropout.h"

#include "core/ops/ops.h"

namespace graft::nn {

Dropout::Dropout(double p, Generator& generator) : p_(p), generator_(&generator) {
  GRAFT_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return ops::dropout(x, p_, is_training(), *generator_); }

}  // namespace graft::nn
