// Whole networks on the GPU against the same networks on the CPU: a ResNet-18 training step
// (forward in training mode, cross-entropy, backward, batch-norm statistics) with graft's GPU
// kernels and with the vendor's, and the eval-mode prediction of a checkpoint written by
// torchvision. The GPU sums in other orders through 18 layers, so the tolerances are relative to
// each tensor's largest value.
#include <memory>
#include <string>

#include "core/autograd.h"
#include "core/kernel_choice.h"
#include "core/ops/ops.h"
#include "core/rng.h"
#include "models/registry.h"
#include "tests/models/torchvision_fixtures.h"
#include "tests/support/compare.h"
#include "tests/support/gpu.h"
#include "tests/support/torch_oracle.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

struct StepResult {
  Tensor logits, loss;
  nn::NamedTensors grads, buffers;  // on the CPU
};

StepResult training_step(nn::Module& model, const Tensor& images, const Tensor& labels, Device device) {
  model.to(device);
  model.train();
  StepResult result;
  result.logits = model(images.to(device));
  result.loss = ops::cross_entropy(result.logits, labels.to(device));
  result.loss.backward();
  for (const auto& [name, p] : model.named_parameters()) result.grads.emplace_back(name, p.grad().to(Device::cpu()));
  for (const auto& [name, b] : model.named_buffers()) result.buffers.emplace_back(name, b.to(Device::cpu()));
  result.logits = result.logits.detach().to(Device::cpu());
  result.loss = result.loss.detach().to(Device::cpu());
  return result;
}

class CudaResNet : public ::testing::TestWithParam<KernelSource> {
 protected:
  void SetUp() override {
    GRAFT_REQUIRE_GPU();
    for (KernelFamily family : kernel_families()) set_kernel_source(family, GetParam());
  }
  void TearDown() override {
    for (KernelFamily family : kernel_families()) set_kernel_source(family, KernelSource::own);
  }
};

TEST_P(CudaResNet, Resnet18TrainingStepMatchesTheCpu) {
  Generator generator(1);
  auto cpu_model = models::create("resnet18", {.num_classes = 10, .generator = &generator});
  auto gpu_model = models::create("resnet18", {.num_classes = 10, .initialize = false});
  gpu_model->load_state_dict(cpu_model->state_dict());
  const Tensor images = randn({4, 3, 64, 64}, generator);
  const Tensor labels = Tensor::from_vector<int64_t>({3, 9, 0, 3}, {4});

  const StepResult cpu = training_step(*cpu_model, images, labels, Device::cpu());
  const StepResult gpu = training_step(*gpu_model, images, labels, Device::cuda());
  EXPECT_TRUE(testing::all_close(gpu.logits, cpu.logits, 0, 1e-4, "logits"));
  EXPECT_TRUE(testing::all_close(gpu.loss, cpu.loss, 0, 1e-5, "loss"));
  ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    EXPECT_TRUE(testing::all_close(gpu.grads[i].second, cpu.grads[i].second, 0, 1e-3, "gradient of " + cpu.grads[i].first));
  }
  // A running mean is a tenth of a batch mean, itself far smaller than the activations it averages,
  // so the activations' own rounding differences weigh more on it than on the logits: float32 alone
  // is 1.5e-6 off float64's in layer4 on the CPU, and cuDNN's Winograd and FFT algorithms round more.
  for (size_t i = 0; i < cpu.buffers.size(); ++i) {
    EXPECT_TRUE(testing::all_close(gpu.buffers[i].second, cpu.buffers[i].second, 0, 1e-4, cpu.buffers[i].first));
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaResNet, ::testing::Values(KernelSource::own, KernelSource::vendor),
                         [](const auto& info) { return std::string(kernel_source_name(info.param)); });

// A checkpoint torch itself wrote for torchvision's resnet50, predicted in evaluation mode on
// both devices and compared with torchvision's logits.
TEST(CudaResNetPrediction, TorchvisionCheckpointPredictsAsOnTheCpu) {
  GRAFT_REQUIRE_GPU();
  GRAFT_REQUIRE_TORCH();
  const std::string dir = testing::parity_fixtures_dir({"resnet50"});
  auto model = models::create("resnet50", {.initialize = false});
  model->load_state_dict(safetensors::read(dir + "/resnet50.weights.safetensors").tensors);
  model->eval();
  const safetensors::File io = safetensors::read(dir + "/resnet50.io.safetensors");
  NoGradGuard no_grad;
  const Tensor cpu_logits = (*model)(io.at("input"));
  model->to(Device::cuda());
  const Tensor gpu_logits = (*model)(io.at("input").to(Device::cuda())).to(Device::cpu());
  EXPECT_TRUE(testing::all_close(gpu_logits, cpu_logits, 0, 1e-4, "GPU logits against the CPU's"));
  EXPECT_TRUE(testing::all_close(gpu_logits, io.at("logits"), 0, 1e-3, "GPU logits against torchvision's"));
}

}  // namespace
}  // namespace graft
