// The view ops (view, reshape, flatten, permute, transpose, slice, select, expand, unsqueeze,
// squeeze) and contiguous: values and gradients through chains of them, numerically in float64
// and against PyTorch in float32; which ones alias their input's storage; and argument errors.
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
using testing::random_input;

// Chains of views, each with its PyTorch spelling. Every one takes the single input "x" of the
// shape given and mixes viewable and copying steps.
struct Chain {
  const char* torch;
  Shape x_shape;
  std::function<Tensor(const Tensor&)> graft;
};

const std::vector<Chain>& chains() {
  static const std::vector<Chain> all{
      // permute, then a reshape that must copy (merges dims with incompatible strides), a
      // strided slice, transpose and flatten.
      {"x.permute(2, 0, 1).reshape(-1, 6)[1:17:3].transpose(0, 1).flatten()", {4, 6, 5},
       [](const Tensor& x) {
         return x.permute({2, 0, 1}).reshape({-1, 6}).slice(0, 1, 17, 3).transpose(0, 1).flatten();
       }},
      // expand (stride-0 dims), a transpose made contiguous and viewed, slices with a step, a
      // negative start and an end past the size.
      {"x.expand(2, 3, 5, 4).transpose(1, 3).contiguous().view(2, 4, 15)[:, ::2, -7:100]", {3, 1, 4},
       [](const Tensor& x) {
         return x.expand({2, 3, 5, 4}).transpose(1, 3).contiguous().view({2, 4, 15}).slice(1, 0, 4, 2)
             .slice(2, -7, 100);
       }},
      // select with a negative index, unsqueeze/squeeze at negative and positive dims, two
      // views of one input meeting again in a product.
      {"x.select(2, -2).unsqueeze(0).squeeze(2).unsqueeze(-1) * x[:, :, 1:4].squeeze(1).unsqueeze(0)",
       {5, 1, 6},
       [](const Tensor& x) {
         return x.select(2, -2).unsqueeze(0).squeeze(2).unsqueeze(-1) *
                x.slice(2, 1, 4).squeeze(1).unsqueeze(0);
       }},
      // a slice with an offset viewed, then a permuted tensor reshaped where its strides allow
      // a view, and a column selected.
      {"x[1:3].view(2, 3, 2, 2).flatten(1, 2).permute(2, 0, 1).reshape(2, 12).select(1, 5)", {4, 3, 4},
       [](const Tensor& x) {
         return x.slice(0, 1, 3).view({2, 3, 2, 2}).flatten(1, 2).permute({2, 0, 1}).reshape({2, 12})
             .select(1, 5);
       }},
      // expand of size-1 dims (-1 keeps one), then a transpose flattened by a copy.
      {"x.unsqueeze(1).expand(3, 2, -1, 4).transpose(0, 2).reshape(-1)", {1, 3, 1},
       [](const Tensor& x) { return x.unsqueeze(1).expand({3, 2, -1, 4}).transpose(0, 2).reshape({-1}); }},
  };
  return all;
}

TEST(ViewOps, GradientsThroughChainsMatchNumerical) {
  uint64_t seed = 1;
  for (const Chain& chain : chains()) {
    SCOPED_TRACE(chain.torch);
    const auto fn = [&](const std::vector<Tensor>& in) { return chain.graft(in[0]); };
    EXPECT_TRUE(testing::gradcheck(fn, {random_input(chain.x_shape, seed++)}));
  }
}

TEST(ViewOps, ChainsMatchTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(20);
  for (const Chain& chain : chains()) {
    const auto fn = chain.graft;
    // Pure data movement is exact; expand's gradient sums in an order that may differ.
    testing::expect_matches_torch({{"x", randn(chain.x_shape, gen).set_requires_grad(true)}}, chain.torch,
                                  [fn](const Inputs& in) { return fn(in.at("x")); }, {.atol = 1e-6, .rtol = 0});
  }
}

TEST(ViewOps, KnownValues) {
  const Tensor x = Tensor::arange(12, DType::f32).view({3, 4});
  EXPECT_EQ(x.t().contiguous().to_vector<float>(), (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_EQ(x.slice(1, 1, 4, 2).to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(x.slice(0, -2, 3).to_vector<float>(), (std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(x.slice(1, 3, 1).shape(), (Shape{3, 0}));  // an empty range
  EXPECT_EQ(x.select(1, -1).to_vector<float>(), (std::vector<float>{3, 7, 11}));
  EXPECT_EQ(x.select(0, 1).to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(x.reshape({2, -1}).shape(), (Shape{2, 6}));
  EXPECT_EQ(x.reshape({-1}).shape(), (Shape{12}));
  EXPECT_EQ(x.view({2, 1, -1, 3}).shape(), (Shape{2, 1, 2, 3}));
  EXPECT_EQ(x.flatten().shape(), (Shape{12}));
  EXPECT_EQ(Tensor::scalar(1.0).flatten().shape(), (Shape{1}));
  EXPECT_EQ(x.unsqueeze(0).shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(x.view({3, 1, 4}).squeeze(1).shape(), (Shape{3, 4}));
  EXPECT_EQ(x.squeeze(0).shape(), (Shape{3, 4}));  // not of size 1: unchanged
  EXPECT_EQ(x.permute({-1, 0}).shape(), (Shape{4, 3}));
  EXPECT_EQ(x.slice(1, 0, 1).expand({2, 3, 5}).to_vector<float>()[7], 4.0f);
}

TEST(ViewOps, ViewsAliasTheirInput) {
  const Tensor x = Tensor::zeros({3, 4});
  EXPECT_TRUE(x.view({4, 3}).same_storage(x));
  EXPECT_TRUE(x.reshape({12}).same_storage(x));
  EXPECT_TRUE(x.t().same_storage(x));
  EXPECT_TRUE(x.slice(1, 1, 3).same_storage(x));
  EXPECT_TRUE(x.select(0, 2).same_storage(x));
  EXPECT_TRUE(x.unsqueeze(1).expand({3, 5, 4}).same_storage(x));
  EXPECT_TRUE(x.slice(1, 0, 2).view({3, 2, 1}).same_storage(x));  // strides allow it
  EXPECT_FALSE(x.t().reshape({12}).same_storage(x));                // must copy
  EXPECT_FALSE(x.t().contiguous().same_storage(x));
  EXPECT_EQ(x.contiguous().raw_impl(), x.raw_impl());  // already contiguous: the same tensor
  // Writing through a view changes the original.
  x.select(0, 1).slice(0, 2, 3).fill_(7.0);
  EXPECT_EQ(x.to_vector<float>()[6], 7.0f);
}

TEST(ViewOps, GradientOfSliceIsZeroOutsideTheSlice) {
  Tensor x = Tensor::zeros({2, 5}).set_requires_grad(true);
  x.slice(1, 1, 5, 2).backward(Tensor::ones({2, 2}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 1, 0, 1, 0, 0, 1, 0, 1, 0}));
}

using testing::expect_error;

TEST(ViewOps, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({3, 4});
  // A transposed tensor cannot be flattened without a copy: the error says to use reshape.
  expect_error([&] { x.t().view({12}); }, "view", "use reshape() instead");
  expect_error([&] { x.unsqueeze(1).expand({3, 2, 4}).view({24}); }, "view", "without a copy");
  expect_error([&] { x.reshape({-1, -1}); }, "reshape", "only one dimension can be -1");
  expect_error([&] { x.reshape({5, -1}); }, "reshape", "invalid for an input of shape [3, 4]");
  expect_error([&] { x.view({13}); }, "view", "12 elements");
  expect_error([&] { x.reshape({-2, 6}); }, "reshape", "invalid size -2");
  expect_error([&] { x.flatten(1, 0); }, "flatten", "comes after");
  expect_error([&] { x.permute({0}); }, "permute", "got 1 dims");
  expect_error([&] { x.permute({1, 1}); }, "permute", "appears twice");
  expect_error([&] { x.permute({0, 2}); }, "permute", "out of range");
  expect_error([&] { x.transpose(0, 2); }, "transpose", "out of range");
  expect_error([&] { x.slice(1, 0, 4, 0); }, "slice", "step must be positive");
  expect_error([&] { x.slice(2, 0, 1); }, "slice", "out of range");
  expect_error([&] { x.select(1, 4); }, "select", "index 4 is out of range");
  expect_error([&] { x.select(0, -4); }, "select", "index -4");
  expect_error([&] { x.expand({3, 5}); }, "expand", "must be 1");
  expect_error([&] { x.expand({4}); }, "expand", "fewer dimensions");
  expect_error([&] { x.expand({-1, 3, 4}); }, "expand", "-1 is not allowed");
  expect_error([&] { x.unsqueeze(3); }, "unsqueeze", "out of range");
  expect_error([&] { x.squeeze(-3); }, "squeeze", "out of range");
}

}  // namespace
}  // namespace graft
