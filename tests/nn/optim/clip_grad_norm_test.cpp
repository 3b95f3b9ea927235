// clip_grad_norm against torch.nn.utils.clip_grad_norm_: the returned norm and the clipped
// gradients, when clipping and when the norm is already below max_norm; parameters without a
// gradient are skipped.
#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/optim/optimizer.h"
#include "tests/nn/optim/optim_oracle.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

// Gradients for three parameters; the second has none.
std::vector<Tensor> make_params() {
  Generator gen(11);
  std::vector<Tensor> params;
  for (const Shape& shape : {Shape{8, 3, 3, 3}, Shape{5}, Shape{37}}) {
    Tensor p = Tensor::zeros(shape).set_requires_grad(true);
    if (shape.size() != 1 || shape[0] != 5) p.set_grad(randn(shape, gen));
    params.push_back(p);
  }
  return params;
}

TEST(ClipGradNorm, MatchesTorchWhenClippingAndWhenNot) {
  GRAFT_REQUIRE_TORCH();
  const std::vector<double> max_norms = {1.5, 1e3};  // the gradients' norm is about 16
  std::vector<testing::OracleCase> oracle_cases;
  for (double max_norm : max_norms) {
    const std::vector<Tensor> params = make_params();
    oracle_cases.push_back({.tensors = {{"grad:conv", params[0].grad()}, {"grad:bias", params[2].grad()}},
                            .metadata = {{"mode", "clip"}, {"params", "conv,none,bias"}, {"max_norm", testing::py(max_norm)}}});
  }
  const auto references = testing::run_optim_reference(oracle_cases);
  ASSERT_TRUE(references);

  for (size_t i = 0; i < max_norms.size(); ++i) {
    SCOPED_TRACE(concat("max_norm ", max_norms[i]));
    const safetensors::File& reference = (*references)[i];
    const std::vector<Tensor> params = make_params();
    const double norm = nn::clip_grad_norm(params, max_norms[i]);
    EXPECT_NEAR(norm, reference.at("total_norm").item(), 1e-6 * norm);
    EXPECT_TRUE(testing::all_close(params[0].grad(), reference.at("grad:conv"), 0, 1e-6, "conv gradient"));
    EXPECT_TRUE(testing::all_close(params[2].grad(), reference.at("grad:bias"), 0, 1e-6, "bias gradient"));
    EXPECT_FALSE(params[1].grad().defined());
  }
}

TEST(ClipGradNorm, ScalesToMaxNorm) {
  Tensor p = Tensor::zeros({2}).set_requires_grad(true);
  p.set_grad(Tensor::from_vector<float>({3, 4}, {2}));
  EXPECT_DOUBLE_EQ(nn::clip_grad_norm({p}, 1.0), 5.0);
  const std::vector<float> g = p.grad().to_vector<float>();
  EXPECT_NEAR(g[0], 0.6, 1e-6);
  EXPECT_NEAR(g[1], 0.8, 1e-6);
}

TEST(ClipGradNorm, WithoutGradientsTheNormIsZero) {
  Tensor p = Tensor::zeros({2}).set_requires_grad(true);
  EXPECT_EQ(nn::clip_grad_norm({p}, 1.0), 0.0);
  EXPECT_EQ(nn::clip_grad_norm({}, 1.0), 0.0);
}

TEST(ClipGradNorm, BadInputIsRefused) {
  Tensor p = Tensor::zeros({2}).set_requires_grad(true);
  testing::expect_error([&] { nn::clip_grad_norm({p}, 0.0); }, "clip_grad_norm", "max_norm 0 is invalid");
  testing::expect_error([&] { nn::clip_grad_norm({p}, -1.0); }, "clip_grad_norm", "max_norm -1 is invalid");
  testing::expect_error([&] { nn::clip_grad_norm({Tensor()}, 1.0); }, "clip_grad_norm", "parameter 0 is an undefined");
}

}  // namespace
}  // namespace graft
