// The parity harness itself: it must pass on an identical computation and fail on a wrong one.
#include "tests/support/torch_oracle.h"

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest-spi.h"

namespace graft {
namespace {

using testing::Inputs;

TEST(TorchOracle, MatchesAnIdenticalComputation) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(1);
  Tensor a = randn({3, 4}, gen), b = randn({4}, gen);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  testing::expect_matches_torch({{"a", a}, {"b", b}}, "(a * b + a).sum(0)",
                                [](const Inputs& in) { return ops::sum(in.at("a") * in.at("b") + in.at("a"), {0}); });
}

TEST(TorchOracle, DetectsAWrongForwardAndAWrongGradient) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(2);
  Tensor a = randn({5}, gen);
  a.set_requires_grad(true);
  EXPECT_NONFATAL_FAILURE(testing::expect_matches_torch({{"a", a}}, "a * 2 + 0.001",
                                                        [](const Inputs& in) { return in.at("a") * 2.0; }),
                          "output of");
  // Same forward values, different gradient: a.detach() * 2 + a - a has gradient 0 in torch.
  EXPECT_NONFATAL_FAILURE(testing::expect_matches_torch({{"a", a}}, "a.detach() * 2 + a - a",
                                                        [](const Inputs& in) { return in.at("a") * 2.0; }),
                          "gradient of a");
}

}  // namespace
}  // namespace graft
