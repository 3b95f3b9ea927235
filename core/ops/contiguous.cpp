// contiguous: the same values in row-major order. Backward passes the gradient through.
#include "core/autograd.h"
#include "core/cuda_runtime.h"
#include "kernels/copy.h"

namespace graft {
namespace {

struct ContiguousBackward : Node {
  const char* name() const override { return "ContiguousBackward"; }
  std::vector<Tensor> backward(const Tensor& grad) override { return {grad}; }
};

}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  GRAFT_CHECK(device().is_cpu(), "contiguous: non-contiguous tensors on ", device().str(),
              " are not supported yet; make the tensor contiguous on the CPU before moving it");
  Tensor out = Tensor::empty(shape(), dtype());
  kernels::cpu::gather_strided(raw_data(), static_cast<int>(dim()), shape().data(), strides().data(),
                               dtype_size(dtype()), out.raw_data());
  if (any_requires_grad({*this})) record(out, std::make_shared<ContiguousBackward>(), {*this});
  return out;
}

}  // namespace graft
