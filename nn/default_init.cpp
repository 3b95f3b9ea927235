#include "nn/default_init.h"

#include <cmath>

namespace graft::nn {
namespace {

thread_local bool init_is_enabled = true;

}  // namespace

bool init_enabled() { return init_is_enabled; }

SkipInitGuard::SkipInitGuard() : previous_(init_is_enabled) { init_is_enabled = false; }

SkipInitGuard::~SkipInitGuard() { init_is_enabled = previous_; }

void default_init(Tensor& weight, Tensor& bias, Generator& generator) {
  if (!init_enabled()) return;
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::fan_in, generator);
  if (!bias.defined()) return;
  const int64_t fan_in = weight.numel() / weight.size(0);
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  init::uniform_(bias, -bound, bound, generator);
}

}  // namespace graft::nn
