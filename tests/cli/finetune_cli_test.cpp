// graft finetune / eval / features end to end on small generated image folders: resuming is
// bit-identical, the linear probe and the config file work, and every bad input named in the
// fine-tuning spec gives one clear error line.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/compare.h"
#include "tests/support/image_files.h"
#include "tests/support/metrics_log.h"
#include "tests/support/process.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

namespace fs = std::filesystem;
using testing::run_command;

class FinetuneCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(GRAFT_ORACLE_DIR) / "finetune_cli" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Runs graft with `args`; returns the exit status, the output in *output.
  int graft(const std::string& args, std::string* output) const {
    output->clear();
    return run_command(std::string(GRAFT_BINARY) + " " + args, output);
  }
  fs::path dir_;
};

// A small, fast setup: resnet18 from random weights on 32x32 images, two classes.
std::string small_run(const std::string& data) {
  return "finetune --model resnet18 --weights none --data " + data +
         " --preprocess none --input-size 32 --augment none --batch-size 4 --quiet --workers 1 --val-fraction 0.25";
}

void expect_same_tensors(const std::string& a, const std::string& b) {
  const safetensors::File left = safetensors::read(a), right = safetensors::read(b);
  ASSERT_EQ(left.tensors.size(), right.tensors.size());
  for (const auto& [name, tensor] : left.tensors) {
    EXPECT_TRUE(testing::all_close(tensor, right.at(name), 0, 0, name)) << "resumed run differs at " << name;
  }
}

TEST_F(FinetuneCli, ResumingIsBitIdentical) {
  testing::write_test_image_folder(path("data"), 2, 6, 32);
  // Shuffling, augmentation, AdamW state and a step schedule all have to survive the resume.
  const std::string common = "finetune --model resnet18 --weights none --data " + path("data") +
                             " --preprocess none --input-size 32 --augment default --batch-size 4 --quiet --workers 2"
                             " --val-fraction 0.25 --optimizer adamw --lr 1e-3 --schedule step:1:0.5 --seed 7";
  std::string out;
  ASSERT_EQ(graft(common + " --epochs 2 --output " + path("straight") + " --save " + path("straight.safetensors"), &out),
            0) << out;
  ASSERT_EQ(graft(common + " --epochs 1 --output " + path("resumed"), &out), 0) << out;
  ASSERT_EQ(graft(common + " --epochs 2 --resume --output " + path("resumed") + " --save " + path("resumed.safetensors"),
                  &out), 0) << out;
  EXPECT_NE(out.find("resuming from"), std::string::npos) << out;
  expect_same_tensors(path("straight.safetensors"), path("resumed.safetensors"));
}

TEST_F(FinetuneCli, MetricsLogOneLinePerStepAndEpoch) {
  testing::write_test_image_folder(path("data"), 2, 4, 32);  // 6 training images: 2 steps per epoch
  std::string out;
  ASSERT_EQ(graft(small_run(path("data")) + " --epochs 2 --metrics " + path("m.jsonl") + " --output " + path("run"),
                  &out), 0) << out;
  std::ifstream in(path("m.jsonl"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 6u);  // 2 x (2 steps + 1 epoch line)
  EXPECT_EQ(lines[0].rfind("{\"step\": 1, \"epoch\": 1, \"loss\": ", 0), 0u) << lines[0];
  EXPECT_NE(lines[2].find("\"val_top1\""), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3].rfind("{\"step\": 3, \"epoch\": 2,", 0), 0u) << lines[3];
  EXPECT_TRUE(fs::exists(path("run/last.safetensors")));
  EXPECT_TRUE(fs::exists(path("run/best.safetensors")));
}

TEST_F(FinetuneCli, EvalAndLinearProbeOnCachedFeatures) {
  testing::write_test_image_folder(path("data"), 3, 4, 32);
  std::string out;
  ASSERT_EQ(graft("features --model resnet18 --weights none --data " + path("data") +
                  " --preprocess none --input-size 32 --val-fraction 0.25 --out " + path("f.safetensors"), &out), 0) << out;
  EXPECT_NE(out.find("train: 9 images x 512 features"), std::string::npos) << out;
  ASSERT_EQ(graft(small_run(path("data")) + " --linear-probe --features " + path("f.safetensors") +
                  " --epochs 50 --save " + path("probe.safetensors"), &out), 0) << out;
  EXPECT_NE(out.find("reading cached features"), std::string::npos) << out;
  EXPECT_NE(out.find("linear probe: train top-1"), std::string::npos) << out;
  ASSERT_EQ(graft("eval --model resnet18 --weights " + path("probe.safetensors") + " --data " + path("data") +
                  " --preprocess none --input-size 32 --json", &out), 0) << out;
  EXPECT_NE(out.find("\"images\": 12"), std::string::npos) << out;
}

TEST_F(FinetuneCli, ConfigFileGivesDefaultsThatFlagsOverride) {
  testing::write_test_image_folder(path("data"), 2, 4, 32);
  std::ofstream(path("config.json")) << "{\"model\": \"resnet18\", \"weights\": \"none\", \"epochs\": 3, "
                                        "\"preprocess\": \"none\", \"input-size\": 32, \"augment\": \"none\", \"quiet\": true, "
                                        "\"freeze\": [\"conv1.*\", \"bn1.*\"]}";
  std::string out;
  ASSERT_EQ(graft("finetune --config " + path("config.json") + " --data " + path("data") + " --epochs 1", &out), 0)
      << out;
  EXPECT_NE(out.find("froze 3 parameter tensors"), std::string::npos) << out;
  EXPECT_NE(out.find("epoch 1:"), std::string::npos) << out;
  EXPECT_EQ(out.find("epoch 2"), std::string::npos) << out;
  std::ofstream(path("bad.json")) << "{\"model\": ";
  EXPECT_NE(graft("finetune --config " + path("bad.json"), &out), 0);
  EXPECT_NE(out.find("is not valid JSON"), std::string::npos) << out;
}

struct BadInput {
  std::string name;
  std::function<std::string(const fs::path&)> prepare;  // returns the extra arguments
  std::string expected;                                 // a fragment of the error line
};

class FinetuneBadInput : public FinetuneCli, public ::testing::WithParamInterface<BadInput> {};

TEST_P(FinetuneBadInput, FailsWithAClearMessage) {
  const std::string extra = GetParam().prepare(dir_);
  std::string out;
  EXPECT_EQ(graft(small_run(path("data")) + " --epochs 1 " + extra, &out), 1) << out;
  EXPECT_NE(out.find("graft finetune: error: "), std::string::npos) << out;
  EXPECT_NE(out.find(GetParam().expected), std::string::npos) << out;
  EXPECT_EQ(out.find("internal error"), std::string::npos) << out;
}

// A bad input that needs only a valid folder of two classes and the `extra` arguments.
BadInput with_images(const std::string& name, const std::string& extra, const std::string& expected) {
  return BadInput{name,
                  [extra](const fs::path& d) {
                    testing::write_test_image_folder((d / "data").string(), 2, 3, 32);
                    return extra;
                  },
                  expected};
}

void corrupt_one_image(const fs::path& dir) {
  testing::write_test_image_folder((dir / "data").string(), 2, 4, 32);
  const fs::path victim = dir / "data" / "class_1" / "2.png";
  const auto size = fs::file_size(victim);
  fs::resize_file(victim, size / 2);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, FinetuneBadInput,
    ::testing::Values(
        BadInput{"FolderWithoutImages",
                 [](const fs::path& d) {
                   fs::create_directories(d / "data" / "a");
                   std::ofstream(d / "data" / "a" / "notes.txt") << "no images here";
                   return std::string();
                 },
                 "no images"},
        BadInput{"EmptyClassFolder",
                 [](const fs::path& d) {
                   testing::write_test_image_folder((d / "data").string(), 2, 3, 32);
                   fs::create_directories(d / "data" / "class_2");
                   return std::string();
                 },
                 "class_2"},
        BadInput{"CorruptImage",
                 [](const fs::path& d) {
                   corrupt_one_image(d);
                   return std::string("--val-fraction 0");
                 },
                 "2.png"},
        with_images("NumClassesContradictsFolders", "--num-classes 5", "--num-classes 5 contradicts the data"),
        with_images("FreezeGlobMatchesNothing", "--freeze 'encoder.*'", "encoder.*"),
        BadInput{"ResumeWithoutCheckpoint",
                 [](const fs::path& d) {
                   testing::write_test_image_folder((d / "data").string(), 2, 3, 32);
                   return "--resume --output " + (d / "nothing").string();
                 },
                 "does not exist"},
        with_images("UnknownModel", "--model resnet19", "resnet19"),
        with_images("DeviceThatIsNotThere", "--device cuda:7", "--device cuda:7"),
        with_images("ClassWeightsForTooFewClasses", "--class-weights 1,2,3",
                    "gives 3 weights but the data has 2 classes"),
        with_images("ClassWeightThatIsNotANumber", "--class-weights 1,heavy",
                    "'heavy' is not a non-negative number"),
        with_images("ClassWeightsAllZero", "--class-weights 0,0", "every weight is 0"),
        with_images("AccumulateWithTheLinearProbe", "--linear-probe --accumulate 2",
                    "--accumulate and --lr-find apply to fine-tuning"),
        with_images("UnknownDevice", "--device tpu", "unknown device 'tpu'")),
    [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

// Class weights reach the training loss: equal weights leave the weighted mean unchanged, unequal
// ones change it from the first step on; the weights are printed with the class names.
TEST_F(FinetuneCli, ClassWeightsWeightTheTrainingLoss) {
  testing::write_test_image_folder(path("data"), 2, 6, 32);
  std::string out;
  const auto losses = [&](const std::string& extra, const std::string& name) {
    EXPECT_EQ(graft(small_run(path("data")) + " --epochs 1 --metrics " + path(name) + " " + extra, &out), 0) << out;
    return testing::step_losses(path(name));
  };
  const std::vector<double> plain = losses("", "plain.jsonl");
  const std::vector<double> equal = losses("--class-weights 2,2", "equal.jsonl");
  EXPECT_NE(out.find("class weights: class_0 2, class_1 2"), std::string::npos) << out;
  const std::vector<double> balanced = losses("--class-weights balanced", "balanced.jsonl");
  EXPECT_NE(out.find("class weights: class_0 1, class_1 1"), std::string::npos) << out;
  const std::vector<double> skewed = losses("--class-weights 1,4", "skewed.jsonl");
  ASSERT_GE(plain.size(), 2u);
  ASSERT_EQ(equal.size(), plain.size());
  ASSERT_EQ(balanced.size(), plain.size());
  ASSERT_EQ(skewed.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_NEAR(equal[i], plain[i], 1e-5 * std::abs(plain[i])) << "step " << i + 1;
    EXPECT_NEAR(balanced[i], plain[i], 1e-5 * std::abs(plain[i])) << "step " << i + 1;
  }
  EXPECT_GT(std::abs(skewed[0] - plain[0]), 1e-4 * std::abs(plain[0]));
}

// With every batch norm frozen in evaluation mode each sample's loss is independent of its batch,
// so 2 accumulated batches of 4 are one batch of 8: the same step losses and the same weights, to
// float rounding. The last step of an epoch may gather fewer batches (here 10 images: 4 + 4, then 2).
TEST_F(FinetuneCli, AccumulatedBatchesEqualOneLargeBatch) {
  testing::write_test_image_folder(path("data"), 2, 5, 32);
  const std::string common = "finetune --model resnet18 --weights none --data " + path("data") +
                             " --preprocess none --input-size 32 --augment none --quiet --workers 1 --val-fraction 0"
                             " --freeze type:BatchNorm2d --freeze-bn-stats --lr 0.05 --epochs 2 --schedule cosine";
  std::string out;
  ASSERT_EQ(graft(common + " --batch-size 4 --accumulate 2 --metrics " + path("small.jsonl") + " --save " +
                      path("small.safetensors"),
                  &out),
            0)
      << out;
  ASSERT_EQ(graft(common + " --batch-size 8 --metrics " + path("large.jsonl") + " --save " + path("large.safetensors"),
                  &out),
            0)
      << out;
  const std::vector<double> small = testing::step_losses(path("small.jsonl"));
  const std::vector<double> large = testing::step_losses(path("large.jsonl"));
  ASSERT_EQ(small.size(), 4u);  // two optimizer steps per epoch
  ASSERT_EQ(large.size(), small.size());
  for (size_t i = 0; i < small.size(); ++i) EXPECT_NEAR(small[i], large[i], 1e-5 * std::abs(large[i])) << "step " << i;
  const safetensors::File a = safetensors::read(path("small.safetensors"));
  const safetensors::File b = safetensors::read(path("large.safetensors"));
  for (const auto& [name, tensor] : a.tensors) {
    EXPECT_TRUE(testing::all_close(tensor, b.at(name), 1e-5, 1e-4, name));
  }
  EXPECT_NE(graft(common + " --accumulate 0", &out), 0);
  EXPECT_NE(out.find("--accumulate must be at least 1"), std::string::npos) << out;
}

// --lr-find runs the range test instead of training: a table, a suggestion or the reason there is
// none, one metrics line per step, and no checkpoint written.
TEST_F(FinetuneCli, LrFindPrintsTheRangeAndASuggestion) {
  testing::write_test_image_folder(path("data"), 2, 6, 32);
  std::string out;
  ASSERT_EQ(graft(small_run(path("data")) + " --lr-find --lr-find-steps 12 --metrics " + path("lr.jsonl") +
                      " --output " + path("run"),
                  &out),
            0)
      << out;
  EXPECT_NE(out.find("smoothed"), std::string::npos) << out;
  EXPECT_TRUE(out.find("suggested lr: ") != std::string::npos || out.find("no suggestion") != std::string::npos) << out;
  std::ifstream metrics(path("lr.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) {
    EXPECT_NE(line.find("\"lr\": "), std::string::npos) << line;
    ++lines;
  }
  EXPECT_GE(lines, 2);
  EXPECT_LE(lines, 12);
  EXPECT_FALSE(fs::exists(path("run") + "/last.safetensors"));
}

TEST_F(FinetuneCli, LinearProbeTakesClassWeights) {
  testing::write_test_image_folder(path("data"), 3, 4, 32);
  std::string out;
  ASSERT_EQ(graft(small_run(path("data")) + " --linear-probe --epochs 5 --class-weights 1,0.5,2", &out), 0) << out;
  EXPECT_NE(out.find("class weights: class_0 1, class_1 0.5, class_2 2"), std::string::npos) << out;
  EXPECT_NE(out.find("linear probe: train top-1"), std::string::npos) << out;
}

// A GEMM kernel that does not exist stops the command before it reads or writes anything.
TEST_F(FinetuneCli, UnknownCpuKernelStopsBeforeAnyWork) {
  testing::write_test_image_folder(path("data"), 2, 3, 32);
  std::string out;
  const std::string command = small_run(path("data")) + " --epochs 1 --output " + path("run");
  EXPECT_EQ(run_command("GRAFT_CPU_ISA=sse9 " + std::string(GRAFT_BINARY) + " " + command, &out), 2) << out;
  EXPECT_NE(out.find("graft: error: GRAFT_CPU_ISA='sse9': unknown GEMM kernel; use portable, avx2 or avx512"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(path("run")));
  EXPECT_EQ(run_command("GRAFT_CPU_ISA=portable " + std::string(GRAFT_BINARY) + " " + command, &out), 0) << out;
}

TEST_F(FinetuneCli, CorruptImagesCanBeSkipped) {
  corrupt_one_image(dir_);
  std::string out;
  ASSERT_EQ(graft(small_run(path("data")) + " --epochs 1 --val-fraction 0 --bad-images skip", &out), 0) << out;
  EXPECT_NE(out.find("2.png"), std::string::npos) << out;
  EXPECT_NE(out.find("skipped 1 unreadable images"), std::string::npos) << out;
}

}  // namespace
}  // namespace graft
