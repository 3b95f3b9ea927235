// graft predict against torchvision: for each of the 13 models, torchvision builds it with seeded
// random weights (batch-norm statistics randomized too) and writes the checkpoint in all three .pth
// layouts; on real photos cropped to 224x224 PNGs (the same pixels on both sides),
// `graft predict --preprocess none` must give torchvision's top-5 and every logit within
// 1e-3 x max|logit|.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "gtest/gtest.h"
#include "models/registry.h"
#include "tests/support/files.h"
#include "tests/support/process.h"
#include "tests/support/torch_oracle.h"
#include "weights/json.h"

namespace graft {
namespace {

namespace fs = std::filesystem;

const fs::path kImages = fs::path(GRAFT_SOURCE_DIR) / ".." / "shared" / "data" / "images";
const std::vector<std::string> kPhotos = {"koala.jpg", "giant_panda.jpg", "strawberry_0.jpg"};

using testing::run_command;

std::vector<int64_t> top5(const std::vector<double>& logits) {
  std::vector<int64_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                    [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  order.resize(5);
  return order;
}

class PredictParity : public ::testing::TestWithParam<std::string> {};

TEST_P(PredictParity, MatchesTorchvisionInEveryLayout) {
  GRAFT_REQUIRE_TORCH();
  if (!fs::exists(kImages)) GTEST_SKIP() << "skipped: " << kImages << " (shared reference photos) is absent";
  const std::string model = GetParam();
  const fs::path dir = fs::path(GRAFT_ORACLE_DIR) / "predict" / model;
  std::string command = testing::oracle_python() + " " + std::string(GRAFT_SOURCE_DIR) + "/tests/oracle/predict_reference.py " +
                        model + " " + dir.string();
  for (const std::string& photo : kPhotos) command += " " + (kImages / photo).string();
  std::string log;
  ASSERT_EQ(run_command(command, &log), 0) << log;

  const json::Value reference = json::parse(testing::read_file((dir / (model + ".json")).string()));
  std::string images;
  for (const auto& [path, _] : reference.object("reference")) images += " " + path;

  for (const std::string layout : {"zip", "legacy", "tar"}) {
    const fs::path weights = dir / (model + "." + layout + ".pth");
    std::string output;
    const int status = run_command(std::string(GRAFT_BINARY) + " predict --model " + model + " --weights " +
                               weights.string() + " --preprocess none --topk 1000 --json" + images, &output);
    ASSERT_EQ(status, 0) << layout << ": " << output;
    size_t lines = 0;
    for (size_t start = 0; start < output.size();) {
      const size_t end = output.find('\n', start);
      const json::Value line = json::parse(output.substr(start, end - start));
      start = end == std::string::npos ? output.size() : end + 1;
      ++lines;
      const std::string& image = line.object("line").at("image").string("image");
      const json::Array& expected = reference.object("reference").at(image).array("logits");
      std::vector<double> torch_logits, graft_logits(expected.size());
      for (const json::Value& v : expected) torch_logits.push_back(v.number("logit"));
      std::vector<int64_t> graft_order;
      for (const json::Value& entry : line.object("line").at("top").array("top")) {
        const int64_t index = entry.object("entry").at("index").integer("index");
        graft_logits[index] = entry.object("entry").at("logit").number("logit");
        graft_order.push_back(index);
      }
      graft_order.resize(5);
      double scale = 0, worst = 0;
      for (size_t i = 0; i < torch_logits.size(); ++i) {
        scale = std::max(scale, std::abs(torch_logits[i]));
        worst = std::max(worst, std::abs(torch_logits[i] - graft_logits[i]));
      }
      EXPECT_LE(worst, 1e-3 * scale) << model << " " << layout << " " << image;
      EXPECT_EQ(graft_order, top5(torch_logits)) << model << " " << layout << " " << image;
    }
    EXPECT_EQ(lines, kPhotos.size()) << output;
  }
  fs::remove_all(dir);  // the VGG checkpoints are half a gigabyte each
}

INSTANTIATE_TEST_SUITE_P(AllModels, PredictParity, ::testing::ValuesIn(models::names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace graft
