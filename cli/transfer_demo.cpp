// graft transfer-demo: the Fashion-MNIST transfer experiment of train/transfer_demo.h. Pretrains a
// small ResNet on five classes, then learns the other five from 10, 50 and 200 labels per class
// four ways (from scratch, linear probe, fine-tune all, fine-tune with the stem frozen), prints
// the accuracy table and writes results.md, results.json and accuracy.svg.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "train/transfer_demo.h"

namespace graft::cli {
namespace {

constexpr const char* kHelp = R"(usage: graft transfer-demo [options]

Transfer learning on Fashion-MNIST in a few minutes on a CPU: pretrain resnet8 on the classes
T-shirt/top, Trouser, Pullover, Dress, Coat; then learn Sandal, Shirt, Sneaker, Bag, Ankle boot from
a few labelled images per class by training from scratch, a linear probe on the pretrained
features, fine-tuning everything, and fine-tuning with conv1, bn1 and layer1 frozen. Prints the
target test accuracy of each and writes results.md, results.json and accuracy.svg.
  --out DIR              output folder (default demo-output)
  --data DIR             Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)
  --labels K1,K2,...     labelled training images per target class (default 10,50,200)
  --pretrain-epochs N    source-task epochs (default 2)
  --steps N              optimizer steps per trained target run, at most --max-epochs epochs
                         (default 150; max epochs 30)
  --max-epochs N
  --model NAME           resnet8 (default) or resnet20
  --seed N               every random choice: images picked, initialization, order (default 0)
  --quick                tiny sizes for a smoke test (1,500 source images, 5 and 10 labels per
                         class, 300 test images, 10 steps); the other options override it
  --no-progress          no progress bars while pretraining
)";

std::vector<int64_t> parse_label_counts(const std::string& text) {
  std::vector<int64_t> counts;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int64_t value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    GRAFT_CHECK(used == item.size() && !item.empty() && value > 0, "--labels: '", item, "' in '", text,
                "' is not a positive whole number; write e.g. --labels 10,50,200");
    counts.push_back(value);
  }
  GRAFT_CHECK(!counts.empty(), "--labels is empty; write e.g. --labels 10,50,200");
  return counts;
}

}  // namespace

int run_transfer_demo(const std::vector<std::string>& argv) {
  const Args args(argv, {"out", "data", "labels", "pretrain-epochs", "steps", "max-epochs", "model", "seed"},
                  {"quick", "no-progress", "help"});
  if (args.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  train::TransferDemoOptions options = args.flag("quick") ? train::quick_transfer_demo_options()
                                                          : train::TransferDemoOptions{};
  options.data_dir = args.get("data", options.data_dir);
  options.model = args.get("model", options.model);
  const int64_t seed = args.get_int("seed", 0);
  GRAFT_CHECK(seed >= 0, "--seed must not be negative, got ", seed);
  options.seed = static_cast<uint64_t>(seed);
  if (!args.get("labels", "").empty()) options.labels_per_class = parse_label_counts(args.get("labels", ""));
  options.pretrain_epochs = args.get_int("pretrain-epochs", options.pretrain_epochs);
  options.max_steps = args.get_int("steps", options.max_steps);
  options.max_epochs = args.get_int("max-epochs", options.max_epochs);
  options.progress = !args.flag("no-progress");
  const std::string out = args.get("out", "demo-output");

  const train::TransferDemoResult result = train::run_transfer_demo(options);
  std::printf("Target task test top-1 (%lld images); source task test top-1 %.2f%%\n\n%s\n",
              static_cast<long long>(result.target_test_images), 100 * result.source_test_top1,
              train::format_results_table(result).c_str());
  if (*std::min_element(options.labels_per_class.begin(), options.labels_per_class.end()) <= 50) {
    std::printf("transfer beats training from scratch at every label count up to 50 per class: %s\n",
                result.transfer_beats_scratch(50) ? "yes" : "no");
  }
  for (const std::string& path : train::write_transfer_demo_outputs(result, out)) std::printf("wrote %s\n", path.c_str());
  std::printf("total %.1f s\n", result.total_seconds);
  return 0;
}

}  // namespace graft::cli
