// The optimizers on the GPU, where a group's float32 parameters are updated by one multi-tensor
// launch, against the same steps on the CPU. The GPU kernels repeat the CPU twins' operations in
// the same order with the same fused multiply-adds, so the results are equal bit for bit.
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "nn/optim/optim.h"
#include "tests/support/gpu.h"

namespace graft {
namespace {

enum class Kind { sgd, adamw_amsgrad };

// Parameters of many sizes (a tensor spans several of the kernel's chunks, a launch holds many
// tensors) in two groups with different hyperparameters; one parameter skips every other step.
std::vector<Tensor> run(Device device, Kind kind) {
  Generator generator(9);
  std::vector<Tensor> params;
  for (int64_t size : {1, 7, 8192, 8193, 30000, 3, 100}) {
    Tensor p = randn({size}, generator).to(device);
    p.set_requires_grad(true);
    params.push_back(p);
  }
  std::vector<nn::ParamGroup> groups(2);
  groups[0] = {.name = "backbone", .params = {}, .lr = 0.05, .weight_decay = 1e-3};
  groups[1] = {.name = "head", .params = {}, .lr = 0.2, .weight_decay = 0};
  for (size_t i = 0; i < params.size(); ++i)
    groups[i % 2].params.emplace_back("p" + std::to_string(i), params[i]);
  std::unique_ptr<nn::Optimizer> optimizer;
  if (kind == Kind::sgd) {
    optimizer = std::make_unique<nn::Sgd>(groups, nn::SgdOptions{.momentum = 0.9, .nesterov = true});
  } else {
    optimizer = std::make_unique<nn::AdamW>(groups, nn::AdamOptions{.amsgrad = true});
  }
  for (int step = 0; step < 6; ++step) {
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor grad = randn(params[i].shape(), generator);
      params[i].set_grad(i == 3 && step % 2 ? Tensor() : grad.to(device));
    }
    optimizer->step();
  }
  std::vector<Tensor> out;
  for (const Tensor& p : params) out.push_back(p.detach().to(Device::cpu()));
  return out;
}

void expect_bit_identical(Kind kind) {
  const std::vector<Tensor> cpu = run(Device::cpu(), kind), gpu = run(Device::cuda(), kind);
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(gpu[i].to_vector<float>(), cpu[i].to_vector<float>()) << "parameter " << i;
  }
}

TEST(CudaOptimizer, NesterovSgdOverManyTensorsEqualsTheCpuBitForBit) {
  GRAFT_REQUIRE_GPU();
  expect_bit_identical(Kind::sgd);
}

TEST(CudaOptimizer, AmsgradAdamWOverManyTensorsEqualsTheCpuBitForBit) {
  GRAFT_REQUIRE_GPU();
  expect_bit_identical(Kind::adamw_amsgrad);
}

}  // namespace
}  // namespace graft
