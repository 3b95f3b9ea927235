// linear: y = x @ weight^T + bias over the last dimension of x, every leading dimension folded
// into the GEMM's rows. The transposes are GEMM flags; none is materialized. Backward:
//   dx = dy @ weight,  dweight = dy^T @ x (summed over all leading dims),  dbias = sum of dy rows,
// each computed only when its input needs a gradient.

#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/device_gemm.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "kernels/reduce.h"

namespace graft::ops {
namespace {

void check_arguments(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_float(x, "linear", "x");
  check_float(weight, "linear", "weight");
  if (bias.defined()) check_float(bias, "linear", "bias");
  check_same_kind(x, "x", {{&weight, "weight"}, {&bias, "bias"}}, "linear");
  check_dim(weight, 2, "linear", "weight", "[out_features, in_features]");
  GRAFT_CHECK(x.dim() >= 1, "linear: argument 'x' is 0-d; expected shape [..., in_features]");
  GRAFT_CHECK(x.size(-1) == weight.size(1), "linear: x has ", x.size(-1),
              " features in its last dimension (shape ", shape_str(x.shape()), ") but weight ",
              shape_str(weight.shape()), " expects ", weight.size(1));
  if (bias.defined()) {
    GRAFT_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias must have shape [",
                weight.size(0), "] (one value per output feature), got ", shape_str(bias.shape()));
  }
}

struct LinearBackward : Node {
  Tensor x;       // detached, contiguous, [rows, in]; saved only when the weight needs a gradient
  Tensor weight;  // detached, contiguous, [out, in]; saved only when x needs a gradient
  Shape x_shape;
  int64_t rows = 0, in = 0, out = 0;
  const char* name() const override { return "LinearBackward"; }

  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor dy = grad.contiguous();  // [rows, out] in memory
    const DType dtype = dy.dtype();
    Tensor dx, dw, db;
    const Device device = dy.device();
    if (needs_grad(0)) dx = Tensor::empty(x_shape, dtype, device);
    if (needs_grad(1)) dw = Tensor::empty({out, in}, dtype, device);
    if (needs_grad(2)) db = Tensor::empty({out}, dtype, device);
    visit_compute_dtype(dtype, "linear backward", [&](auto v) {
      using T = decltype(v);
      const T* g = dy.device_data<T>();
      if (dx.defined()) {
        device_gemm(device, false, false, rows, in, out, T(1), g, out, weight.device_data<T>(), in, T(0),
                    dx.device_data<T>(), in);
      }
      if (dw.defined()) {
        device_gemm(device, true, false, out, in, rows, T(1), g, out, x.device_data<T>(), in, T(0),
                    dw.device_data<T>(), in);
      }
      if (db.defined()) {
        T* pdb = db.device_data<T>();
        on_device(
            device, [&] { kernels::cpu::sum_reduce(g, int64_t{1}, rows, out, pdb); },
            [&](auto stream) { kernels::cuda::sum_reduce(g, int64_t{1}, rows, out, pdb, stream); });
      }
    });
    return {dx, dw, db};
  }
  void release_saved() override {
    x = Tensor();
    weight = Tensor();
  }
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_arguments(x, weight, bias);
  const int64_t in = weight.size(1), out = weight.size(0);
  const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));  // leading dims
  const Tensor cx = x.detach().contiguous().reshape({rows, in});
  const Tensor cw = weight.detach().contiguous();
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  // Every row starts as the bias; the GEMM adds onto it (beta = 1).
  if (bias.defined()) y.view({rows, out}).copy_(bias.detach().expand({rows, out}));
  visit_compute_dtype(x.dtype(), "linear", [&](auto v) {
    using T = decltype(v);
    device_gemm(x.device(), false, true, rows, out, in, T(1), cx.device_data<T>(), in, cw.device_data<T>(), in,
                bias.defined() ? T(1) : T(0), y.device_data<T>(), out);
  });
  if (any_requires_grad({x, weight, bias})) {
    auto node = std::make_shared<LinearBackward>();
    node->x_shape = x.shape();
    node->rows = rows;
    node->in = in;
    node->out = out;
    if (weight.requires_grad()) node->x = cx;
    if (x.requires_grad()) node->weight = cw;
    record(y, node, {x, weight, bias});
  }
  return y;
}

}  // namespace graft::ops
