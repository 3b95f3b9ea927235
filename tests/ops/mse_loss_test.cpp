// ops::mse_loss: numerical gradients in float64 for input and target and every reduction, values
// and gradients against PyTorch's F.mse_loss in float32, frozen arguments, and argument errors.
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

using ops::Reduction;
using testing::Inputs;
using testing::random_input;

std::function<Tensor(const std::vector<Tensor>&)> mse_with(Reduction reduction) {
  return [reduction](const std::vector<Tensor>& in) { return ops::mse_loss(in[0], in[1], reduction); };
}

TEST(MseLossOp, GradientsMatchNumerical) {
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    SCOPED_TRACE(::testing::Message() << "reduction " << static_cast<int>(r));
    EXPECT_TRUE(testing::gradcheck(mse_with(r), {random_input({3, 5}, 1), random_input({3, 5}, 2)}));
    EXPECT_TRUE(testing::gradcheck(mse_with(r), {random_input({2, 1, 3}, 3),
                                                 random_input({2, 1, 3}, 4, false)}));
    EXPECT_TRUE(testing::gradcheck(mse_with(r), {random_input({7}, 5, false), random_input({7}, 6)}));
    EXPECT_TRUE(testing::gradcheck(mse_with(r), {random_input({}, 7), random_input({}, 8)}));
  }
}

TEST(MseLossOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(20);
  const auto randn_grad = [&](const Shape& shape) { return randn(shape, gen).set_requires_grad(true); };
  const auto run = [](Reduction r) {
    return [r](const Inputs& in) { return ops::mse_loss(in.at("x"), in.at("y"), r); };
  };
  const testing::Tolerance tolerance{.atol = 1e-5, .rtol = 1e-5};
  testing::expect_matches_torch({{"x", randn_grad({5, 7, 3})}, {"y", randn_grad({5, 7, 3})}},
                                "F.mse_loss(x, y)", run(Reduction::mean), tolerance);
  testing::expect_matches_torch({{"x", randn_grad({33, 17})}, {"y", randn({33, 17}, gen)}},
                                "F.mse_loss(x, y, reduction='sum')", run(Reduction::sum), tolerance);
  testing::expect_matches_torch({{"x", randn({4, 9}, gen)}, {"y", randn_grad({4, 9})}},
                                "F.mse_loss(x, y, reduction='none')", run(Reduction::none), tolerance);
}

TEST(MseLossOp, KnownValue) {
  const Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3});
  const Tensor y = Tensor::from_vector<double>({1, 4, 0}, {3});
  EXPECT_EQ(ops::mse_loss(x, y, Reduction::none).to_vector<double>(), (std::vector<double>{0, 4, 9}));
  EXPECT_EQ(ops::mse_loss(x, y, Reduction::sum).item(), 13.0);
  EXPECT_DOUBLE_EQ(ops::mse_loss(x, y).item(), 13.0 / 3);
  EXPECT_EQ(ops::mse_loss(x, y).shape(), Shape{});
}

TEST(MseLossOp, OnlyArgumentsThatRequireGradGetOne) {
  Tensor x = Tensor::from_vector<double>({1, 2}, {2});
  Tensor y = Tensor::from_vector<double>({3, 1}, {2}).set_requires_grad(true);
  ops::mse_loss(x, y, Reduction::sum).backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{4, -2}));  // -2 (x - y)
}

TEST(MseLossOp, NonContiguousInput) {
  Generator gen(8);
  const Tensor x = randn({5, 4}, gen), y = randn({4, 5}, gen);
  EXPECT_TRUE(testing::all_close(ops::mse_loss(x.t(), y), ops::mse_loss(x.t().contiguous(), y), 0, 0, "loss"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "mse_loss", fragment);
}

TEST(MseLossOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({2, 3});
  expect_error([&] { ops::mse_loss(x, Tensor::zeros({3})); }, "[3]");
  expect_error([&] { ops::mse_loss(x, Tensor::zeros({3, 2})); }, "[2, 3]");
  expect_error([&] { ops::mse_loss(x, x.to(DType::f64)); }, "float64");
  expect_error([&] { ops::mse_loss(x.to(DType::i64), x); }, "int64");
  expect_error([&] { ops::mse_loss(x, Tensor()); }, "target");
}

}  // namespace
}  // namespace graft
