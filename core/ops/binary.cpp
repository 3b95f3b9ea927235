// add, sub, mul, div with NumPy broadcasting. Backward sums each gradient down to its
// input's shape (the reverse of broadcasting).
#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/on_device.h"
#include "core/ops/ops.h"
#include "kernels/elementwise.h"

namespace graft::ops {
namespace {

using kernels::cpu::BinaryOp;

const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
  }
  return "binary";
}

Tensor compute(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_float(a, name, "a");
  check_float(b, name, "b");
  check_same_kind(a, "a", {{&b, "b"}}, name);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (shape.empty()) shape = {1};  // a 0-d result is one element
  const Tensor ea = a.detach().reshape(a.dim() ? a.shape() : Shape{1}).expand(shape);
  const Tensor eb = b.detach().reshape(b.dim() ? b.shape() : Shape{1}).expand(shape);
  GRAFT_CHECK(shape.size() <= static_cast<size_t>(kernels::cpu::kMaxDims), name, ": at most ",
              kernels::cpu::kMaxDims, " dimensions are supported, got ", shape_str(shape));
  const int ndim = static_cast<int>(shape.size());
  visit_compute_dtype(a.dtype(), name, [&](auto v) {
    using T = decltype(v);
    const T* pa = ea.device_data<T>();
    const T* pb = eb.device_data<T>();
    T* po = out.device_data<T>();
    on_device(
        a,
        [&] {
          kernels::cpu::binary_broadcast(op, ndim, shape.data(), pa, ea.strides().data(), pb, eb.strides().data(),
                                         po);
        },
        [&](auto stream) {
          kernels::cuda::binary_broadcast(op, ndim, shape.data(), pa, ea.strides().data(), pb, eb.strides().data(),
                                          po, stream);
        });
  });
  return out;
}

struct BinaryBackward : Node {
  BinaryOp op;
  Tensor a, b;  // detached inputs, saved for mul and div
  Shape a_shape, b_shape;
  const char* name() const override {
    switch (op) {
      case BinaryOp::add: return "AddBackward";
      case BinaryOp::sub: return "SubBackward";
      case BinaryOp::mul: return "MulBackward";
      case BinaryOp::div: return "DivBackward";
    }
    return "BinaryBackward";
  }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    switch (op) {
      case BinaryOp::add:
        if (needs_grad(0)) ga = g;
        if (needs_grad(1)) gb = g;
        break;
      case BinaryOp::sub:
        if (needs_grad(0)) ga = g;
        if (needs_grad(1)) gb = -g;
        break;
      case BinaryOp::mul:
        if (needs_grad(0)) ga = g * b;
        if (needs_grad(1)) gb = g * a;
        break;
      case BinaryOp::div:
        if (needs_grad(0)) ga = g / b;
        if (needs_grad(1)) gb = -(g * a) / (b * b);
        break;
    }
    return {ga.defined() ? sum_to(ga, a_shape) : ga, gb.defined() ? sum_to(gb, b_shape) : gb};
  }
  void release_saved() override {
    a = Tensor();
    b = Tensor();
  }
};

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor out = compute(op, a, b);
  if (any_requires_grad({a, b})) {
    auto node = std::make_shared<BinaryBackward>();
    node->op = op;
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    if (op == BinaryOp::mul || op == BinaryOp::div) {
      node->a = a.detach();
      node->b = b.detach();
    }
    record(out, node, {a, b});
  }
  return out;
}

Tensor scalar_like(const Tensor& t, double value) {
  return t.defined() ? Tensor::full({}, value, t.dtype(), t.device()) : Tensor::scalar(value);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }

}  // namespace graft::ops

namespace graft {

Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor operator+(const Tensor& a, double b) { return ops::add(a, ops::scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return ops::sub(a, ops::scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return ops::mul(a, ops::scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return ops::div(a, ops::scalar_like(a, b)); }
Tensor operator-(const Tensor& a) { return ops::mul(a, ops::scalar_like(a, -1.0)); }

}  // namespace graft
