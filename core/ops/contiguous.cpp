// contiguous: the same values in row-major order. Backward passes the gradient through.
#include "core/autograd.h"
#include "core/ops/on_device.h"
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
  GRAFT_CHECK(device().is_cpu() || dim() <= kernels::cuda::kMaxStridedDims, "contiguous: a non-contiguous ",
              device().str(), " tensor of more than ", kernels::cuda::kMaxStridedDims, " dims (shape ",
              shape_str(shape()), ") is not supported; copy it on the cpu device");
  Tensor out = Tensor::empty(shape(), dtype(), device());
  const int ndim = static_cast<int>(dim());
  ops::on_device(
      *this,
      [&] {
        kernels::cpu::gather_strided(raw_data(), ndim, shape().data(), strides().data(), dtype_size(dtype()),
                                     out.raw_data());
      },
      [&](auto stream) {
        kernels::cuda::gather_strided(raw_data(), ndim, shape().data(), strides().data(), dtype_size(dtype()),
                                      out.raw_data(), stream);
      });
  if (any_requires_grad({*this})) record(out, std::make_shared<ContiguousBackward>(), {*this});
  return out;
}

}  // namespace graft
