// Module::state_dict and load_state_dict: torch's key order, a round trip through safetensors,
// the load report, strict errors, shape mismatches, dtype conversion and checkpoints without
// num_batches_tracked.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "tests/nn/tiny_net.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

using testing::TinyNet;

std::vector<std::string> names_of(const nn::StateDict& state) {
  std::vector<std::string> names;
  for (const auto& [name, value] : state) names.push_back(name);
  return names;
}

// Copies of every tensor, so that later in-place changes do not affect them.
nn::StateDict snapshot(const nn::Module& module) {
  nn::StateDict copy;
  for (const auto& [name, t] : module.state_dict()) copy.emplace_back(name, t.clone());
  return copy;
}

void expect_same_state(const nn::Module& module, const nn::StateDict& expected) {
  const nn::StateDict actual = module.state_dict();
  ASSERT_EQ(names_of(actual), names_of(expected));
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].second.dtype(), expected[i].second.dtype()) << actual[i].first;
    EXPECT_TRUE(testing::all_close(actual[i].second, expected[i].second, 0, 0, actual[i].first));
  }
}

nn::StateDict without(nn::StateDict state, const std::string& name) {
  std::erase_if(state, [&](const auto& entry) { return entry.first == name; });
  return state;
}

TEST(StateDict, InterleavesParametersAndBuffersPerModuleAsTorch) {
  Generator gen(1);
  TinyNet net(gen);
  const nn::StateDict state = net.state_dict();
  EXPECT_EQ(names_of(state), (std::vector<std::string>{"scale", "conv.weight", "bn.weight", "bn.bias",
                                                       "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                                                       "head.2.weight", "head.2.bias"}));
  // Detached, but sharing storage with the module.
  EXPECT_FALSE(state[1].second.requires_grad());
  EXPECT_EQ(state[1].second.raw_data(), net.conv->weight().raw_data());
}

TEST(StateDict, RoundTripsThroughSafetensors) {
  Generator gen(2);
  TinyNet trained(gen);
  trained(randn({4, 2, 6, 6}, gen));  // a training step moves the running stats and the counter
  ASSERT_EQ(trained.bn->num_batches_tracked().item(), 1);
  const std::string path = (std::filesystem::temp_directory_path() / "graft_nn_roundtrip.safetensors").string();
  safetensors::write(path, trained.state_dict());

  Generator other(3);
  TinyNet restored(other);
  const nn::LoadReport report = restored.load_state_dict(safetensors::read(path).tensors);
  EXPECT_TRUE(report.ok()) << report.str();
  expect_same_state(restored, trained.state_dict());
  trained.eval();
  restored.eval();
  const Tensor x = randn({2, 2, 6, 6}, gen);
  EXPECT_TRUE(testing::all_close(restored(x), trained(x), 0, 0, "output after reload"));
  std::filesystem::remove(path);
}

TEST(StateDict, LoadedValuesAreCopiesNotAliases) {
  Generator gen(4);
  TinyNet source(gen), target(gen);
  target.load_state_dict(source.state_dict());
  EXPECT_NE(target.conv->weight().raw_data(), source.conv->weight().raw_data());
  EXPECT_TRUE(target.conv->weight().requires_grad());
}

TEST(StateDict, NonStrictLoadReportsAndSkipsWhatDoesNotMatch) {
  Generator gen(5);
  TinyNet source(gen, /*classes=*/7);
  TinyNet target(gen, /*classes=*/3);
  const nn::StateDict before = snapshot(target);
  nn::StateDict checkpoint = without(source.state_dict(), "bn.running_var");
  checkpoint.emplace_back("fc.weight", Tensor::zeros({2, 2}));

  const nn::LoadReport report = target.load_state_dict(checkpoint, /*strict=*/false);
  EXPECT_EQ(report.missing, (std::vector<std::string>{"bn.running_var"}));
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"fc.weight"}));
  ASSERT_EQ(report.shape_mismatched.size(), 2u);
  EXPECT_EQ(report.shape_mismatched[0].name, "head.2.weight");
  EXPECT_EQ(report.shape_mismatched[0].expected, (Shape{3, 4}));
  EXPECT_EQ(report.shape_mismatched[0].got, (Shape{7, 4}));
  EXPECT_EQ(report.shape_mismatched[1].name, "head.2.bias");
  EXPECT_FALSE(report.ok());
  const std::string text = report.str();
  EXPECT_NE(text.find("1 missing from the checkpoint: bn.running_var"), std::string::npos) << text;
  EXPECT_NE(text.find("head.2.weight (model [3, 4], checkpoint [7, 4])"), std::string::npos) << text;

  // Matching tensors were copied; the others kept their values.
  EXPECT_TRUE(testing::all_close(target.conv->weight(), source.conv->weight(), 0, 0, "conv.weight"));
  EXPECT_TRUE(testing::all_close(target.bn->running_var(), before[5].second, 0, 0, "bn.running_var"));
  EXPECT_TRUE(testing::all_close(target.state_dict()[7].second, before[7].second, 0, 0, "head.2.weight"));
}

TEST(StateDict, StrictLoadRaisesListingTheProblemsAndChangesNothing) {
  Generator gen(6);
  TinyNet source(gen, 7), target(gen, 3);
  const nn::StateDict before = snapshot(target);
  nn::StateDict checkpoint = without(source.state_dict(), "conv.weight");
  for (int i = 0; i < 8; ++i) checkpoint.emplace_back("extra." + std::to_string(i), Tensor::zeros({1}));

  testing::expect_error([&] { target.load_state_dict(checkpoint); }, "load_state_dict", "1 missing from the checkpoint: conv.weight");
  testing::expect_error([&] { target.load_state_dict(checkpoint); }, "TinyNet",
                        "8 unexpected in the checkpoint: extra.0, extra.1, extra.2, extra.3, extra.4 (and 3 more)");
  testing::expect_error([&] { target.load_state_dict(checkpoint); }, "load_state_dict", "2 with mismatched shapes");
  testing::expect_error([&] { target.load_state_dict(checkpoint); }, "load_state_dict", "strict=false");
  expect_same_state(target, before);
}

TEST(StateDict, ConvertsCheckpointDtypesToTheModels) {
  Generator gen(7);
  TinyNet source(gen), target(gen);
  source(randn({3, 2, 4, 4}, gen));
  nn::StateDict half;
  for (const auto& [name, t] : source.state_dict()) {
    half.emplace_back(name, is_floating(t.dtype()) ? t.to(DType::f16) : t.to(DType::f64));  // counter as float64
  }
  EXPECT_TRUE(target.load_state_dict(half).ok());
  for (const auto& [name, t] : target.state_dict()) {
    const Tensor& original = std::find_if(half.begin(), half.end(), [&](const auto& e) { return e.first == name; })->second;
    EXPECT_EQ(t.dtype(), name.ends_with("num_batches_tracked") ? DType::i64 : DType::f32) << name;
    EXPECT_TRUE(testing::all_close(t, original.to(t.dtype()), 0, 0, name));  // exact: f16 -> f32 is lossless
  }
}

TEST(StateDict, CheckpointsWithoutNumBatchesTrackedLoadStrictly) {
  // torchvision's published ImageNet checkpoints predate the counter.
  Generator gen(8);
  TinyNet source(gen), target(gen);
  target(randn({2, 2, 4, 4}, gen));
  const nn::LoadReport report = target.load_state_dict(without(source.state_dict(), "bn.num_batches_tracked"));
  EXPECT_TRUE(report.ok()) << report.str();
  EXPECT_EQ(target.bn->num_batches_tracked().item(), 1);  // kept
}

TEST(StateDict, RejectsDuplicateAndUndefinedCheckpointTensors) {
  Generator gen(9);
  TinyNet net(gen);
  nn::StateDict state = net.state_dict();
  state.push_back(state[0]);
  testing::expect_error([&] { net.load_state_dict(state); }, "load_state_dict", "'scale' twice");
  testing::expect_error([&] { net.load_state_dict({{"scale", Tensor()}}, false); }, "load_state_dict", "undefined");
}

}  // namespace
}  // namespace graft
