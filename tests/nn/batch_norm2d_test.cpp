// nn::BatchNorm2d against torch.nn.BatchNorm2d over several calls: outputs, running statistics
// and num_batches_tracked, with a fixed momentum and with the cumulative average (momentum
// None), then in evaluation mode; and the variants without running stats or affine parameters.
#include <optional>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

using testing::Inputs;

// Two training calls then one evaluation call, with everything the module holds afterwards,
// flattened into one tensor. `module` is the torch constructor call.
std::string torch_steps(const std::string& module) {
  return "[torch.cat([bn(x1).flatten(), bn(x2).flatten(), bn.eval()(x3).flatten(), bn.running_mean, bn.running_var,"
         " bn.num_batches_tracked.reshape(1).float()]) for bn in [" + module + "]][0]";
}

Tensor graft_steps(nn::BatchNorm2d& bn, const Inputs& in) {
  std::vector<Tensor> parts = {bn(in.at("x1")).flatten(), bn(in.at("x2")).flatten()};
  bn.eval();
  parts.push_back(bn(in.at("x3")).flatten());
  parts.push_back(bn.running_mean());
  parts.push_back(bn.running_var());
  parts.push_back(bn.num_batches_tracked().to(DType::f32).reshape({1}));
  return ops::cat(parts);
}

Inputs random_batches(uint64_t seed) {
  Generator gen(seed);
  return {{"x1", randn({4, 3, 5, 6}, gen) * 2.0 + 1.0}, {"x2", randn({2, 3, 7, 5}, gen)}, {"x3", randn({3, 3, 4, 4}, gen)}};
}

TEST(BatchNorm2dLayer, MatchesTorchWithMomentum) {
  GRAFT_REQUIRE_TORCH();
  nn::BatchNorm2d bn(3, {.momentum = 0.3});
  testing::expect_matches_torch(random_batches(1), torch_steps("torch.nn.BatchNorm2d(3, momentum=0.3)"),
                                [&](const Inputs& in) { return graft_steps(bn, in); });
  EXPECT_EQ(bn.num_batches_tracked().item(), 2);
}

TEST(BatchNorm2dLayer, MatchesTorchWithCumulativeAverage) {
  GRAFT_REQUIRE_TORCH();
  nn::BatchNorm2d bn(3, {.eps = 1e-3, .momentum = std::nullopt});
  testing::expect_matches_torch(random_batches(2), torch_steps("torch.nn.BatchNorm2d(3, eps=1e-3, momentum=None)"),
                                [&](const Inputs& in) { return graft_steps(bn, in); });
}

TEST(BatchNorm2dLayer, WithoutRunningStatsAlwaysUsesBatchStatistics) {
  GRAFT_REQUIRE_TORCH();
  nn::BatchNorm2d bn(3, {.track_running_stats = false});
  EXPECT_TRUE(bn.named_buffers().empty());
  testing::expect_matches_torch(
      random_batches(3), "torch.nn.BatchNorm2d(3, track_running_stats=False).eval()(x1)", [&](const Inputs& in) {
        bn.eval();
        return bn(in.at("x1"));
      });
}

TEST(BatchNorm2dLayer, WithoutAffineHasNoParameters) {
  GRAFT_REQUIRE_TORCH();
  nn::BatchNorm2d bn(3, {.affine = false});
  EXPECT_TRUE(bn.named_parameters().empty());
  EXPECT_EQ(bn.state_dict().size(), 3u);
  testing::expect_matches_torch(random_batches(4), torch_steps("torch.nn.BatchNorm2d(3, affine=False)"),
                                [&](const Inputs& in) { return graft_steps(bn, in); });
}

TEST(BatchNorm2dLayer, RejectsBadArguments) {
  testing::expect_error([] { nn::BatchNorm2d(0); }, "BatchNorm2d", "positive");
  testing::expect_error([] { nn::BatchNorm2d(3, {.momentum = 1.5}); }, "BatchNorm2d", "momentum");
  nn::BatchNorm2d bn(3);
  testing::expect_error([&] { bn(Tensor::zeros({2, 3, 4})); }, "BatchNorm2d", "[N, C, H, W]");
  testing::expect_error([&] { bn(Tensor::zeros({2, 4, 4, 4})); }, "BatchNorm2d", "3 channels");
}

}  // namespace
}  // namespace graft
