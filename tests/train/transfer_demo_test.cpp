// The Fashion-MNIST transfer demo: `graft transfer-demo --quick` end to end (exit status, the
// printed table, results.md, results.json with every cell, accuracy.svg), transfer strategies
// above chance, a bit-identical rerun of a tiny configuration through the library, and the errors
// for bad options. Skipped with the reason when Fashion-MNIST is not installed.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "tests/support/files.h"
#include "tests/support/process.h"
#include "train/transfer_demo.h"
#include "weights/json.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

const std::string kData = "/usr/share/datasets/fashion-mnist";

#define REQUIRE_FASHION_MNIST()                                                                     \
  do {                                                                                              \
    if (!fs::exists(kData + "/train-images-idx3-ubyte.gz"))                                         \
      GTEST_SKIP() << "skipped: Fashion-MNIST is not in " << kData                                  \
                   << "; install it with 'apt-get install dataset-fashion-mnist'";                  \
  } while (0)

using testing::read_file;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("graft_transfer_demo." + name + "." + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(TransferDemo, QuickRunWritesTheTableJsonAndChart) {
  REQUIRE_FASHION_MNIST();
  const fs::path out = fresh_dir("quick");
  std::string log;
  // Passive waiting: with the suite's other tests on the same two cores, spinning OpenMP threads
  // make this run several times slower. The numbers are the same either way.
  const int status = testing::run_command("OMP_WAIT_POLICY=passive " + std::string(GRAFT_BINARY) +
                                              " transfer-demo --quick --no-progress --out '" + out.string() + "'",
                                          &log);
  ASSERT_EQ(status, 0) << log;
  EXPECT_NE(log.find("| labels per class | from scratch | linear probe | fine-tune all |"), std::string::npos) << log;
  EXPECT_NE(log.find("source task test top-1"), std::string::npos) << log;
  EXPECT_NE(log.find("[pretrain on the source task: "), std::string::npos) << "time per phase\n" << log;

  const json::Value results = json::parse(read_file(out / "results.json"));
  const json::Object& top = results.object("results.json");
  EXPECT_EQ(top.at("model").string("model"), "resnet8");
  const double source_top1 = top.at("source").object("source").at("test_top1").number("test_top1");
  EXPECT_GT(source_top1, 0.3) << "the pretrained model should beat chance (0.2) on its own task";
  const json::Array& rows = top.at("results").array("results");
  ASSERT_EQ(rows.size(), 2u);
  const int64_t expected_labels[] = {5, 10};
  for (size_t i = 0; i < rows.size(); ++i) {
    const json::Object& row = rows[i].object("row");
    EXPECT_EQ(row.at("labels_per_class").integer("labels_per_class"), expected_labels[i]);
    for (const std::string& strategy : train::transfer_strategies()) {
      ASSERT_TRUE(row.count(strategy)) << "no cell for " << strategy << " at row " << i;
      const json::Object& cell = row.at(strategy).object("cell");
      const double top1 = cell.at("top1").number("top1");
      EXPECT_GE(top1, 0.0) << strategy;
      EXPECT_LE(top1, 1.0) << strategy;
      EXPECT_GT(cell.at("steps").integer("steps"), 0) << strategy;
      // Five classes: chance is 0.2. Transfer from the source task must do clearly better.
      if (strategy != "scratch") {
        EXPECT_GT(top1, 0.35) << strategy << " with " << expected_labels[i] << " labels";
      }
    }
  }

  const std::string md = read_file(out / "results.md");
  EXPECT_EQ(count(md, "\n| 5 |"), 1u) << md;
  EXPECT_EQ(count(md, "\n| 10 |"), 1u) << md;
  EXPECT_EQ(count(md, "%"), 2u * 4u + 1u) << "every cell and the source accuracy\n" << md;
  const std::string svg = read_file(out / "accuracy.svg");
  EXPECT_TRUE(svg.starts_with("<?xml")) << svg.substr(0, 100);
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_EQ(count(svg, "class=\"marker\""), 2u * 4u);
  EXPECT_EQ(count(svg, "class=\"legend\""), 4u);
  fs::remove_all(out);
}

TEST(TransferDemo, TheSameSeedGivesTheSameNumbers) {
  REQUIRE_FASHION_MNIST();
  train::TransferDemoOptions options;
  options.labels_per_class = {3};
  options.pretrain_epochs = 1;
  options.source_images = 128;
  options.pretrain_batch_size = 64;
  options.test_images = 50;
  options.max_steps = 2;
  options.probe_epochs = 5;
  options.progress = false;
  const train::TransferDemoResult first = train::run_transfer_demo(options);
  const train::TransferDemoResult second = train::run_transfer_demo(options);
  EXPECT_EQ(first.source_test_top1, second.source_test_top1);
  EXPECT_EQ(first.top1, second.top1);
  EXPECT_EQ(first.steps, second.steps);
  ASSERT_EQ(first.top1.size(), 1u);
  EXPECT_EQ(first.steps[0], (std::vector<int64_t>{2, 5, 2, 2}));  // 15 images in one batch of 32
  EXPECT_EQ(first.source_train_images, 128);
  EXPECT_EQ(first.target_test_images, 50);
  EXPECT_NEAR(first.pixel_mean, 0.2860, 1e-3);  // Fashion-MNIST's training set
  EXPECT_NEAR(first.pixel_std, 0.3530, 1e-3);
}

TEST(TransferDemo, TransferBeatsScratchComparesTheBestTransferStrategy) {
  train::TransferDemoResult result;
  result.options.labels_per_class = {10, 50, 200};
  // Columns: scratch, linear probe, fine-tune all, fine-tune frozen.
  result.top1 = {{0.70, 0.75, 0.72, 0.71}, {0.85, 0.80, 0.84, 0.86}, {0.93, 0.85, 0.90, 0.91}};
  EXPECT_TRUE(result.transfer_beats_scratch(10));
  EXPECT_TRUE(result.transfer_beats_scratch(50));
  EXPECT_FALSE(result.transfer_beats_scratch(200));
  EXPECT_FALSE(result.transfer_beats_scratch(5)) << "no label count up to 5";
  result.top1[1][3] = 0.85;  // a tie is not a win
  EXPECT_FALSE(result.transfer_beats_scratch(50));
}

TEST(TransferDemo, BadOptionsAreClearErrors) {
  train::TransferDemoOptions options;
  options.model = "resnet18";
  testing::expect_error([&] { train::run_transfer_demo(options); }, "transfer demo", "small models");
  options = {};
  options.labels_per_class = {10, 7000};
  testing::expect_error([&] { train::run_transfer_demo(options); }, "transfer demo", "6,000 training images");
  options = {};
  options.data_dir = "/nonexistent";
  testing::expect_error([&] { train::run_transfer_demo(options); }, "Fashion-MNIST", "apt-get install dataset-fashion-mnist");

  std::string log;
  EXPECT_NE(testing::run_command(std::string(GRAFT_BINARY) + " transfer-demo --labels 10,x", &log), 0);
  EXPECT_NE(log.find("--labels: 'x'"), std::string::npos) << log;
  log.clear();
  EXPECT_NE(testing::run_command(std::string(GRAFT_BINARY) + " transfer-demo --seed -1", &log), 0);
  EXPECT_NE(log.find("--seed"), std::string::npos) << log;
}

}  // namespace
}  // namespace graft
