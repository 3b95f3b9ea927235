#pragma once
// torch.nn's default initialization of Conv2d and Linear (their reset_parameters):
// weight ~ kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and
// bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in.
//
// Random initialization can be switched off for a scope with SkipInitGuard: layers built inside
// keep zero weights. Use it for a model whose state is loaded from a checkpoint right away
// (drawing VGG-16's 138 M initial values takes seconds and is then thrown away).
#include "core/rng.h"
#include "core/tensor.h"

namespace graft::nn {

// `bias` may be undefined. Does nothing inside a SkipInitGuard.
void default_init(Tensor& weight, Tensor& bias, Generator& generator);

// Whether random initialization is on (per thread; on unless a SkipInitGuard is alive).
bool init_enabled();

class SkipInitGuard {
 public:
  SkipInitGuard();
  ~SkipInitGuard();
  SkipInitGuard(const SkipInitGuard&) = delete;
  SkipInitGuard& operator=(const SkipInitGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace graft::nn
