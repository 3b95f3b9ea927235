// Training parity with PyTorch: tests/oracle/finetune_reference.py writes resnet18's initial
// weights with torch.save and trains it for 20 steps (training mode, new 2-class head, no
// shuffling or augmentation) in four configurations; `graft finetune` runs the same from the
// same file. Every step's loss must be within 1e-3 relative of torch's and every final tensor
// (parameters and batch-norm buffers) within 1e-3 of its largest magnitude. Frozen parameters
// must come out bit-identical to the initial ones.
//
// The reference script explains the choice of learning rates and initial weights (they keep
// float32 rounding from growing, so that 1e-3 measures graft, not chaos) and why torch trains in
// float64 there: its float32 run drifts from the exact one by 3e-3 on some processors.
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/compare.h"
#include "tests/support/files.h"
#include "tests/support/metrics_log.h"
#include "tests/support/process.h"
#include "tests/support/torch_oracle.h"
#include "weights/json.h"
#include "weights/pth.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

namespace fs = std::filesystem;
using testing::run_command;

const fs::path kImages = fs::path(GRAFT_SOURCE_DIR) / ".." / "shared" / "data" / "images";
const fs::path kDir = fs::path(GRAFT_ORACLE_DIR) / "finetune";

// Runs the reference script for one case, in a folder of its own (ctest runs cases in parallel).
bool make_reference(const std::string& name, std::string* log) {
  std::string command = testing::oracle_python() + " " + std::string(GRAFT_SOURCE_DIR) + "/tests/oracle/finetune_reference.py " +
                        (kDir / name).string() + " " + name;
  for (const char* photo : {"koala.jpg", "giant_panda.jpg", "orange_0.jpg", "granny_smith_1.jpg"}) {
    command += " " + (kImages / photo).string();
  }
  return run_command(command, log) == 0;
}

std::vector<double> reference_losses(const std::string& name) {
  const json::Value reference = json::parse(testing::read_file((kDir / name / (name + ".json")).string()));
  std::vector<double> losses;
  for (const json::Value& v : reference.object("reference").at("losses").array("losses")) {
    losses.push_back(v.number("loss"));
  }
  return losses;
}

struct Case {
  std::string name;
  std::string options;
  int epochs = 5;  // 20 steps of 4 batches of 4 images, or 10 epochs of 2 accumulated pairs
};

// Test logs name the case rather than dumping its bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class FinetuneParity : public ::testing::TestWithParam<Case> {};

TEST_P(FinetuneParity, TwentyStepsMatchTorch) {
  GRAFT_REQUIRE_TORCH();
  if (!fs::exists(kImages)) GTEST_SKIP() << "skipped: " << kImages << " (shared reference photos) is absent";
  std::string log;
  const Case& c = GetParam();
  ASSERT_TRUE(make_reference(c.name, &log)) << log;
  const fs::path dir = kDir / c.name;
  const fs::path metrics = dir / "graft.jsonl";
  const fs::path saved = dir / "graft.safetensors";
  const std::string command = std::string(GRAFT_BINARY) + " finetune --model resnet18 --weights " +
                              (dir / "init.pth").string() + " --data " + (dir / "images").string() +
                              " --val-fraction 0 --num-classes 2 --epochs " + std::to_string(c.epochs) +
                              " --batch-size 4 --no-shuffle --augment none --preprocess none --input-size 64 --quiet"
                              " --metrics " +
                              metrics.string() + " --save " + saved.string() + " " + c.options;
  std::string output;
  ASSERT_EQ(run_command(command, &output), 0) << output;

  const std::vector<double> expected = reference_losses(c.name), got = testing::step_losses(metrics.string());
  ASSERT_EQ(got.size(), 20u) << output;
  ASSERT_EQ(expected.size(), 20u);
  for (size_t step = 0; step < got.size(); ++step) {
    EXPECT_NEAR(got[step], expected[step], 1e-3 * std::abs(expected[step])) << "loss of step " << step + 1;
  }

  const safetensors::File torch_final = safetensors::read((dir / (c.name + ".safetensors")).string());
  const safetensors::File graft_final = safetensors::read(saved.string());
  ASSERT_EQ(graft_final.tensors.size(), torch_final.tensors.size());
  const Checkpoint initial = load_pth((dir / "init.pth").string());
  for (const auto& [name, expected_tensor] : torch_final.tensors) {
    const Tensor& actual = graft_final.at(name);
    if (expected_tensor.dtype() == DType::i64) {
      EXPECT_EQ(actual.item(), expected_tensor.item()) << name;
      continue;
    }
    EXPECT_TRUE(testing::all_close(actual, expected_tensor, 0, 1e-3, name));
    const bool frozen = c.name == "frozen" && (name.rfind("conv1.", 0) == 0 || name.rfind("layer1.", 0) == 0 ||
                                               name == "bn1.weight" || name == "bn1.bias") &&
                        name.find("running") == std::string::npos && name.find("num_batches") == std::string::npos;
    if (frozen) {
      for (const auto& [init_name, init_tensor] : initial.tensors) {
        if (init_name == name) {
          EXPECT_TRUE(testing::all_close(actual, init_tensor, 0, 0, name + " (frozen)"));
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Resnet18, FinetuneParity,
    ::testing::Values(Case{"sgd", "--optimizer sgd --lr 2e-5 --momentum 0.9 --weight-decay 1e-4"},
                      Case{"frozen", "--optimizer sgd --lr 2e-5 --momentum 0.9 --weight-decay 1e-4 "
                                     "--freeze conv1.*,bn1.*,layer1.*"},
                      Case{"adamw", "--optimizer adamw --lr 3e-6 --head-lr 3e-5 --weight-decay 0.01"},
                      Case{"weighted",
                           "--optimizer sgd --lr 1e-5 --momentum 0.9 --weight-decay 1e-4 --class-weights 1,3 "
                           "--label-smoothing 0.1 --accumulate 2",
                           10}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace graft
