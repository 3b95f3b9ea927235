#include "core/autograd.h"

#include "core/ops/ops.h"
#include "gtest/gtest.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"

namespace graft {
namespace {

using testing::all_close;

Tensor leaf(std::vector<double> values, Shape shape) {
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad(true);
  return t;
}

TEST(Autograd, ChainRuleThroughArithmetic) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = leaf({4, 5, 6}, {3});
  Tensor loss = ops::sum(x * y + x / y - y);  // d/dx = y + 1/y, d/dy = x - x/y^2 - 1
  loss.backward();
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector<double>({4.25, 5.2, 6 + 1.0 / 6}, {3}), 1e-12, 0));
  EXPECT_TRUE(all_close(y.grad(), Tensor::from_vector<double>({1 - 1.0 / 16 - 1, 2 - 2.0 / 25 - 1, 3 - 3.0 / 36 - 1}, {3}), 1e-12, 0));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({1, 2}, {2});
  ops::sum(x * x).backward();
  ops::sum(x * x).backward();
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector<double>({4, 8}, {2}), 0, 0));
}

TEST(Autograd, SharedSubgraphReceivesSumOfGradients) {
  Tensor x = leaf({2}, {1});
  Tensor shared = x * x;                      // used twice below
  Tensor loss = ops::sum(shared * 3.0 + shared * shared);  // 3x^2 + x^4: d/dx = 6x + 4x^3 = 44
  loss.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 44.0);
}

TEST(Autograd, LeafUsedTwiceInOneOp) {
  Tensor x = leaf({3}, {1});
  ops::sum(x * x).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 6.0);
}

TEST(Autograd, BranchWithoutGradientDoesNotBlockOthers) {
  Tensor x = leaf({1, 2}, {2});
  Tensor constant = Tensor::from_vector<double>({5, 7}, {2});
  Tensor a = x * constant;          // needs grad
  Tensor b = constant * constant;   // needs none
  ops::sum(a + b + a).backward();
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector<double>({10, 14}, {2}), 0, 0));
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y;
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    y = x * x;
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_THROW(ops::sum(y).backward(), Error);
}

TEST(Autograd, BackwardWithoutRequiresGradIsAClearError) {
  Tensor x = Tensor::from_vector<double>({1, 2}, {2});
  try {
    ops::sum(x * x).backward();
    FAIL() << "expected graft::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not require grad"), std::string::npos) << e.what();
  }
}

TEST(Autograd, NonScalarBackwardNeedsAGradient) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(), Error);
  EXPECT_THROW(y.backward(Tensor::ones({3}, DType::f64)), Error);
  y.backward(Tensor::from_vector<double>({1, 10}, {2}));
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector<double>({2, 20}, {2}), 0, 0));
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = ops::sum(x * x);
  loss.backward(Tensor(), /*retain_graph=*/true);
  loss.backward();  // allowed: the graph was retained
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector<double>({4, 8}, {2}), 0, 0));
  try {
    loss.backward();
    FAIL() << "expected graft::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Autograd, RequiresGradPropagatesAndLeavesAreMarked) {
  Tensor x = leaf({1}, {1});
  Tensor c = Tensor::from_vector<double>({2}, {1});
  Tensor y = x * c;
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE((c * c).requires_grad());
  EXPECT_THROW(y.set_requires_grad(false), Error);
  EXPECT_THROW(Tensor::zeros({2}, DType::i64).set_requires_grad(true), Error);
}

TEST(Autograd, FrozenInputGetsNoGradient) {
  Tensor w = leaf({1, 2}, {2});
  Tensor frozen = Tensor::from_vector<double>({3, 4}, {2});
  ops::sum(w * frozen).backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(frozen.grad().defined());
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = leaf({2}, {1});
  Tensor y = (x * x).detach();
  EXPECT_FALSE(y.requires_grad());
  Tensor z = x * y;
  ops::sum(z).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 4.0);  // y is a constant 4
}

TEST(Autograd, DeepChainDoesNotOverflowTheStack) {
  Tensor x = leaf({1}, {1});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0;
  ops::sum(y).backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 1.0);
}

TEST(Autograd, GradientThroughDtypeConversion) {
  Tensor x = leaf({1.5, -2}, {2});
  Tensor y = x.to(DType::f32);
  EXPECT_TRUE(y.requires_grad());
  ops::sum(y * y).backward();
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector<double>({3, -4}, {2}), 1e-6, 0));
}

TEST(Autograd, GradcheckCatchesAWrongGradient) {
  // A deliberately wrong backward (identity instead of 2x) must fail the gradient check.
  struct WrongSquare : Node {
    const char* name() const override { return "WrongSquare"; }
    std::vector<Tensor> backward(const Tensor& g) override { return {g}; }
  };
  auto wrong_square = [](const std::vector<Tensor>& in) {
    Tensor out;
    {
      NoGradGuard guard;
      out = in[0] * in[0];
    }
    if (any_requires_grad(in)) record(out, std::make_shared<WrongSquare>(), in);
    return out;
  };
  EXPECT_FALSE(testing::gradcheck(wrong_square, {testing::random_input({3}, 1)}));
  EXPECT_TRUE(testing::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; },
                                 {testing::random_input({3}, 1)}));
}

}  // namespace
}  // namespace graft
