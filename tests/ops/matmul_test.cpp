// ops::matmul: numerical gradients in float64 (2-D, batched, broadcast batch), forward and
// gradients against PyTorch in float32, gradients skipped for inputs that do not require them,
// and argument errors.
#include <functional>
#include <string>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

using testing::Inputs;

Tensor matmul_of(const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); }

TEST(MatmulOp, GradientsMatchNumerical) {
  using testing::random_input;
  EXPECT_TRUE(testing::gradcheck(matmul_of, {random_input({3, 4}, 1), random_input({4, 5}, 2)}));
  EXPECT_TRUE(testing::gradcheck(matmul_of, {random_input({2, 3, 4}, 3), random_input({2, 4, 5}, 4)}));
  EXPECT_TRUE(testing::gradcheck(matmul_of, {random_input({1, 3, 4}, 5), random_input({3, 4, 2}, 6)}));
  EXPECT_TRUE(testing::gradcheck(matmul_of, {random_input({3, 2, 5}, 7), random_input({1, 5, 3}, 8)}));
  EXPECT_TRUE(testing::gradcheck(matmul_of, {random_input({1, 1, 3}, 9), random_input({1, 3, 1}, 10)}));
}

TEST(MatmulOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  struct MatmulCase {
    Shape a, b;
    bool transposed_a;  // a is stored [k, m] and passed as the strided view a.t()
  };
  const std::vector<MatmulCase> cases = {
      {{37, 61}, {61, 29}, false},
      {{3, 17, 9}, {3, 9, 13}, false},
      // Broadcast batch on each side; the shared operand's gradient sums over the batch.
      {{1, 6, 11}, {4, 11, 5}, false},
      {{4, 6, 11}, {1, 11, 5}, false},
      {{23, 10}, {23, 8}, true},
  };
  // One python call: outputs flattened and joined, inputs named a0, b0, a1, ...
  Generator gen(20);
  Inputs inputs;
  std::string expression = "torch.cat([";
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string a = concat("a", i), b = concat("b", i);
    inputs[a] = randn(cases[i].a, gen).set_requires_grad(true);
    inputs[b] = randn(cases[i].b, gen).set_requires_grad(true);
    expression += concat("torch.matmul(", a, cases[i].transposed_a ? ".t()" : "", ", ", b, ").flatten(), ");
  }
  expression += "])";
  const auto graft_fn = [&](const Inputs& in) {
    std::vector<Tensor> outputs;
    for (size_t i = 0; i < cases.size(); ++i) {
      const Tensor a = cases[i].transposed_a ? in.at(concat("a", i)).t() : in.at(concat("a", i));
      outputs.push_back(ops::matmul(a, in.at(concat("b", i))).flatten());
    }
    return ops::cat(outputs);
  };
  // float32 sums of up to 61 unit-variance products.
  testing::expect_matches_torch(inputs, expression, graft_fn, {.atol = 1e-4, .rtol = 1e-5});
}

TEST(MatmulOp, FrozenOperandGetsNoGradient) {
  Generator gen(30);
  const Tensor a = randn({2, 3, 4}, gen), b = randn({1, 4, 5}, gen), dy = randn({2, 3, 5}, gen);
  Tensor ar = a.clone().set_requires_grad(true), br = b.clone().set_requires_grad(true);
  ops::matmul(ar, br).backward(dy);

  Tensor ag = a.clone().set_requires_grad(true);
  ops::matmul(ag, b).backward(dy);
  EXPECT_TRUE(testing::all_close(ag.grad(), ar.grad(), 0, 0, "da"));
  EXPECT_FALSE(b.grad().defined());

  Tensor bg = b.clone().set_requires_grad(true);
  ops::matmul(a, bg).backward(dy);
  EXPECT_TRUE(testing::all_close(bg.grad(), br.grad(), 0, 0, "db"));
  EXPECT_FALSE(a.grad().defined());
}

TEST(MatmulOp, EmptyBatchGivesZeroGradientForSharedOperand) {
  Tensor a = Tensor::ones({0, 2, 3}).set_requires_grad(true);
  Tensor b = Tensor::ones({1, 3, 4}).set_requires_grad(true);
  Tensor y = ops::matmul(a, b);
  EXPECT_EQ(y.shape(), (Shape{0, 2, 4}));
  y.backward(Tensor::zeros({0, 2, 4}));
  EXPECT_TRUE(testing::all_close(b.grad(), Tensor::zeros({1, 3, 4}), 0, 0, "db"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "matmul", fragment);
}

TEST(MatmulOp, RejectsBadArguments) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 4});
  expect_error([&] { ops::matmul(Tensor::zeros({3}), b); }, "same rank");
  expect_error([&] { ops::matmul(a, Tensor::zeros({2, 3, 4})); }, "same rank");
  expect_error([&] { ops::matmul(Tensor::zeros({1, 2, 2, 3}), Tensor::zeros({1, 2, 3, 4})); }, "same rank");
  expect_error([&] { ops::matmul(a, Tensor::zeros({4, 3})); }, "inner dimensions");
  expect_error([&] { ops::matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})); }, "batch sizes");
  expect_error([&] { ops::matmul(a, b.to(DType::f64)); }, "float64");
  expect_error([&] { ops::matmul(a.to(DType::i64), b); }, "int64");
  EXPECT_EQ(ops::matmul(a, b).shape(), (Shape{2, 4}));
}

}  // namespace
}  // namespace graft
