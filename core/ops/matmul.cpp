// matmul: [m, k] @ [k, n], or batched [B, m, k] @ [B, k, n] where an operand with batch 1 is
// shared by every product. Backward, per product i:
//   da_i = dy_i @ b_i^T,  db_i = a_i^T @ dy_i  (transposes as GEMM flags),
// and a shared operand's gradient is the sum over the batch, accumulated by the GEMM (beta = 1).

#include "core/autograd.h"
#include "core/ops/checks.h"
#include "core/ops/device_gemm.h"
#include "core/ops/ops.h"

namespace graft::ops {
namespace {

// Matrix sizes of one product and the batch; `shared_a`/`shared_b` mark an operand of batch 1.
struct MatmulShape {
  int64_t batch = 1, m = 0, k = 0, n = 0;
  bool shared_a = false, shared_b = false;
};

MatmulShape check_arguments(const Tensor& a, const Tensor& b) {
  check_float(a, "matmul", "a");
  check_float(b, "matmul", "b");
  check_same_kind(a, "a", {{&b, "b"}}, "matmul");
  GRAFT_CHECK((a.dim() == 2 && b.dim() == 2) || (a.dim() == 3 && b.dim() == 3),
              "matmul: supports [m, k] @ [k, n] and [B, m, k] @ [B, k, n], got shapes ", shape_str(a.shape()),
              " and ", shape_str(b.shape()), "; give both operands the same rank (unsqueeze(0) adds a batch "
              "dim of 1, which broadcasts)");
  GRAFT_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: a ", shape_str(a.shape()),
              " has ", a.size(-1), " columns but b ", shape_str(b.shape()), " has ", b.size(-2), " rows");
  MatmulShape s;
  s.m = a.size(-2);
  s.k = a.size(-1);
  s.n = b.size(-1);
  if (a.dim() == 3) {
    const int64_t ba = a.size(0), bb = b.size(0);
    GRAFT_CHECK(ba == bb || ba == 1 || bb == 1, "matmul: batch sizes ", ba, " and ", bb,
                " differ and neither is 1 (shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
                ")");
    s.batch = ba == 1 ? bb : ba;
    s.shared_a = ba == 1 && bb != 1;
    s.shared_b = bb == 1 && ba != 1;
  }
  return s;
}

// C_i = op(A_i) op(B_i) for i in [0, batch), on `device`. op(A_i) is m x k, op(B_i) k x n, both
// stored contiguously (transposed when the flag is set). A shared operand is the same matrix for
// every i; a shared result is the sum of the batch's products (the caller zeroes it when batch is 0).
template <typename T>
void batched_gemm(Device device, int64_t batch, int64_t m, int64_t n, int64_t k, bool trans_a, const T* a,
                  bool shared_a, bool trans_b, const T* b, bool shared_b, T* c, bool shared_c) {
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  if (!shared_c) {
    device_gemm_batched(device, trans_a, trans_b, m, n, k, T(1), a, lda, shared_a ? 0 : m * k, b, ldb,
                        shared_b ? 0 : k * n, T(0), c, n, m * n, batch);
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {  // each product adds onto the sum so far (beta = 1)
    device_gemm(device, trans_a, trans_b, m, n, k, T(1), a + (shared_a ? 0 : i * m * k), lda,
                b + (shared_b ? 0 : i * k * n), ldb, i > 0 ? T(1) : T(0), c, n);
  }
}

// The gradient of an operand: zeros when it is shared by an empty batch (an empty sum).
Tensor gradient_buffer(const Shape& shape, bool shared, int64_t batch, DType dtype, Device device) {
  return shared && batch == 0 ? Tensor::zeros(shape, dtype, device) : Tensor::empty(shape, dtype, device);
}

struct MatmulBackward : Node {
  MatmulShape s;
  Tensor a;  // detached, contiguous; saved only when b needs a gradient
  Tensor b;  // detached, contiguous; saved only when a needs a gradient
  Shape a_shape, b_shape;
  const char* name() const override { return "MatmulBackward"; }

  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor dy = grad.contiguous();
    Tensor da, db;
    const Device device = dy.device();
    if (needs_grad(0)) da = gradient_buffer(a_shape, s.shared_a, s.batch, dy.dtype(), device);
    if (needs_grad(1)) db = gradient_buffer(b_shape, s.shared_b, s.batch, dy.dtype(), device);
    visit_compute_dtype(dy.dtype(), "matmul backward", [&](auto v) {
      using T = decltype(v);
      if (da.defined()) {  // [m, n] @ [k, n]^T
        batched_gemm(device, s.batch, s.m, s.k, s.n, false, dy.device_data<T>(), false, true, b.device_data<T>(),
                     s.shared_b, da.device_data<T>(), s.shared_a);
      }
      if (db.defined()) {  // [m, k]^T @ [m, n]
        batched_gemm(device, s.batch, s.k, s.n, s.m, true, a.device_data<T>(), s.shared_a, false,
                     dy.device_data<T>(), false, db.device_data<T>(), s.shared_b);
      }
    });
    return {da, db};
  }
  void release_saved() override {
    a = Tensor();
    b = Tensor();
  }
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const MatmulShape s = check_arguments(a, b);
  const Tensor ca = a.detach().contiguous();
  const Tensor cb = b.detach().contiguous();
  Tensor out = Tensor::empty(a.dim() == 3 ? Shape{s.batch, s.m, s.n} : Shape{s.m, s.n}, a.dtype(), a.device());
  visit_compute_dtype(a.dtype(), "matmul", [&](auto v) {
    using T = decltype(v);
    batched_gemm(a.device(), s.batch, s.m, s.n, s.k, false, ca.device_data<T>(), s.shared_a, false,
                 cb.device_data<T>(), s.shared_b, out.device_data<T>(), false);
  });
  if (any_requires_grad({a, b})) {
    auto node = std::make_shared<MatmulBackward>();
    node->s = s;
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    if (b.requires_grad()) node->a = ca;
    if (a.requires_grad()) node->b = cb;
    record(out, node, {a, b});
  }
  return out;
}

}  // namespace graft::ops
