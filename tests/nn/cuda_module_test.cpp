// Modules on the GPU: to() moves parameters, buffers and gradients in place, except the batch-norm
// counter, which stays on the host and still counts the GPU's training steps.
#include "core/ops/ops.h"
#include "gtest/gtest.h"
#include "nn/batch_norm2d.h"
#include "tests/support/gpu.h"

namespace graft {
namespace {

TEST(CudaModule, ToMovesEverythingButTheBatchNormCounter) {
  GRAFT_REQUIRE_GPU();
  nn::BatchNorm2d bn(3);
  const Tensor weight = bn.named_parameters()[0].second;
  weight.set_grad(Tensor::ones({3}));
  bn.to(Device::cuda());
  for (const auto& [name, p] : bn.named_parameters()) EXPECT_TRUE(p.device().is_cuda()) << name;
  EXPECT_TRUE(weight.device().is_cuda());  // the handle taken before the move sees the moved data
  EXPECT_TRUE(weight.grad().device().is_cuda());
  for (const auto& [name, b] : bn.named_buffers()) {
    EXPECT_EQ(b.device().is_cuda(), name != "num_batches_tracked") << name;
  }

  Generator gen(3);
  const Tensor x = randn({4, 3, 5, 5}, gen).to(Device::cuda());
  bn.train();
  bn.forward(x);
  bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked().item(), 2);
  bn.eval();
  EXPECT_TRUE(bn.forward(x).device().is_cuda());
  EXPECT_EQ(bn.num_batches_tracked().item(), 2);
}

}  // namespace
}  // namespace graft
